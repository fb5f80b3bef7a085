// HTTP ingest rate: POST /v1/events with batches of 500 simulated events against `darkroom serve`
// running in its own process (embedded log by default, Kafka when KAFKA_BROKERS is set), from a load
// generator in this process with a few requests in flight.
//   npx tsx bench/http-ingest.ts [--seconds 10] [--rounds 3] [--batch 500] [--inflight 4]
// Environment passed to the server as is (e.g. KAFKA_BROKERS=127.0.0.1:19092).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createSimulation } from '../simulator/index.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '500' }, inflight: { type: 'string', default: '4' },
    port: { type: 'string', default: '18471' },
  },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
const batch = Number(values.batch);
const inflight = Number(values.inflight);
const port = Number(values.port);

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-ingest-'));
const server = spawn(process.execPath, ['cli/bin.mjs', 'serve'], {
  env: { ...process.env, PORT: String(port), DARKROOM_DATA_DIR: dataDir, DARKROOM_SIMULATE: '0' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serverLog = '';
server.stderr.on('data', (d: Buffer) => { serverLog += d.toString(); });
const base = `http://127.0.0.1:${port}`;

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try { if ((await fetch(`${base}/healthz`)).ok) return; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server did not start:\n${serverLog}`);
}

// Bodies prepared up front so the load generator measures the server, not the simulator.
const simulation = createSimulation({ users: 10_000, seed: 3, startTs: Date.now(), rate: 10_000 });
const bodies = Array.from({ length: 200 }, () => JSON.stringify(simulation.next(batch)));

async function round(): Promise<{ eventsPerSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let sent = 0;
  let i = 0;
  const end = Date.now() + seconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (Date.now() < end) {
      const t = performance.now();
      const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[i++ % bodies.length] });
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`ingest answered ${res.status}`);
      latencies.push(performance.now() - t);
      sent += batch;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { eventsPerSecond: sent / elapsed, p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)] };
}

try {
  await waitReady();
  await round(); // warm-up: schema ids, JIT
  const results = [];
  for (let r = 0; r < rounds; r++) results.push(await round());
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const backend = process.env.KAFKA_BROKERS ? `kafka (${process.env.KAFKA_BROKERS})` : 'embedded log';
  console.log(`HTTP ingest into ${backend}: batches of ${batch}, ${inflight} in flight, ${rounds} rounds of ${seconds}s`);
  for (const [k, r] of results.entries()) console.log(`  round ${k + 1}: ${Math.round(r.eventsPerSecond)} events/s, request p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms`);
  console.log(`  median: ${Math.round(median(results.map((r) => r.eventsPerSecond)))} events/s`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });
}
