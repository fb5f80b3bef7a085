// How fast the simulator generates, so it is never the bottleneck of a platform benchmark:
//   npx tsx simulator/benchmark.ts [users=10000] [events=2000000]
// Prints world build time, bootstrap rate and stream rate (events generated per second, in batches
// of 1000 as the event producer takes them), per wall-clock second and per CPU second (the fair
// number on a machine shared with other work).
import { createSimulation } from './index.ts';

const users = Number(process.argv[2] ?? 10_000);
const events = Number(process.argv[3] ?? 2_000_000);
const BATCH = 1_000;

const t0 = performance.now();
const simulation = createSimulation({ users, seed: 1, startTs: Date.UTC(2026, 0, 1), rate: 100_000 });
const t1 = performance.now();
let bootstrapped = 0;
for (const _ of simulation.bootstrap()) bootstrapped++;
const t2 = performance.now();
simulation.next(100_000); // warm-up: JIT and a full post window
const t3 = performance.now();
const cpuBefore = process.cpuUsage();
for (let sent = 0; sent < events; sent += BATCH) simulation.next(BATCH);
const cpu = process.cpuUsage(cpuBefore);
const t4 = performance.now();

const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000)).toLocaleString('en');
console.log(`users ${users.toLocaleString('en')}: world built in ${Math.round(t1 - t0)} ms`);
console.log(`bootstrap: ${bootstrapped.toLocaleString('en')} events at ${perSecond(bootstrapped, t2 - t1)}/s`);
console.log(`stream: ${events.toLocaleString('en')} events at ${perSecond(events, t4 - t3)}/s wall, ${perSecond(events, (cpu.user + cpu.system) / 1000)}/s of CPU (GC threads included)`);
console.log(`rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
