// Replay benchmark: how fast a replay rebuilds every view, and what serving sees during the switch.
//
//   npx tsx bench/replay-throughput.ts [--mode embedded|kafka-redis] [--events N] [--users U]
//       [--workers W] [--partitions P] [--read-concurrency C]
//
// 1. The topics are filled with the simulator's world and N stream events; the live view processors
//    (processors/replay.ts startLiveViews, as in `darkroom start`) build generation g1 until lag 0.
// 2. `replay all` rebuilds g2 from offset 0 while readers keep reading feeds and post stats of the
//    current generation (the read API's store calls) as fast as they can. Reported: source events
//    replayed per second (N + world over the rebuild's wall time until caught up), records/s (every
//    processor's input records), and read latency p50/p99/max plus failed or empty reads, overall and
//    in the switch window (from the rebuild catching up to the old generation dropped).
// Analytics is not part of a replay (rows are facts), so it does not run here.
import { parseArgs } from 'node:util';
import { createSimulation } from '../simulator/index.ts';
import type { DarkroomEvent } from '../schemas/events.ts';
import { startPipeline } from '../processors/pipeline.ts';
import { startLiveViews, type StartViews } from '../processors/replay.ts';
import { viewSink } from '../sinks/view-store.ts';
import { pipelineStatus } from '../serving/status.ts';
import { feedKey } from '../processors/feed-fanout/keys.ts';
import { statsKey } from '../processors/engagement-counters/keys.ts';
import { openBenchPlatform, percentile, sleep, type BenchMode } from './pipeline-harness.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'embedded' },
    events: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '8' },
    'read-concurrency': { type: 'string', default: '2' },
    brokers: { type: 'string', default: '127.0.0.1:19092' },
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
  },
});
const mode = values.mode as BenchMode;
const events = Number(values.events);
const users = Number(values.users);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const platform = await openBenchPlatform({
  mode, partitions: Number(values.partitions), workers: Number(values.workers), kafkaBrokers: values.brokers!, redisUrl: values.redis!,
});
const { backend, codec, views, topology, dataDir } = platform;
const startViews: StartViews = (generation, groupPrefix, only) => startPipeline({
  backend, codec, topology, groupPrefix, only, sinkFor: (name) => viewSink(views, generation, name),
  workers: Number(values.workers),
  workerSetup: { dataDir, topology: { partitions: Number(values.partitions), celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 }, generation, groupPrefix },
});

try {
  console.log(`replay bench: ${mode}, ${fmt(events)} events, ${fmt(users)} users, ${values.workers} worker(s), ${values.partitions} partitions`);
  const simulation = createSimulation({ users, seed: 1, startTs: Date.now() - 3_600_000, rate: 5_000 });
  let produced = 0;
  const started = Date.now();
  const world = [...simulation.bootstrap()];
  for (let i = 0; i < world.length; i += 10_000) await platform.producer.send(world.slice(i, i + 10_000));
  produced += world.length;
  let pending: Promise<unknown>[] = [];
  for (let sent = 0; sent < events; sent += 10_000) {
    const batch: DarkroomEvent[] = simulation.next(Math.min(10_000, events - sent));
    pending.push(platform.producer.send(batch));
    produced += batch.length;
    if (pending.length >= 4) { await Promise.all(pending); pending = []; }
    if (sent % 1_000_000 === 0 && sent) console.log(`  produced ${fmt(sent)} events (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  await Promise.all(pending);
  console.log(`  produced ${fmt(produced)} source events (world ${fmt(world.length)}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const live = await startLiveViews({ views, backend, topology, startViews, pollMs: 500, log: (l) => console.log(`  [views] ${l}`) });
  const liveStarted = Date.now();
  for (;;) {
    const lag = (await pipelineStatus(backend, live.processors())).lag;
    if (lag === 0) break;
    await sleep(1000);
  }
  console.log(`  live pipeline built g1 in ${((Date.now() - liveStarted) / 1000).toFixed(1)} s (${fmt(produced / ((Date.now() - liveStarted) / 1000))} source events/s)`);

  // Readers: a page of feeds and post stats, like the read API does per request.
  const latencies: Array<{ at: number; ms: number }> = [];
  let failed = 0;
  let empty = 0;
  let reading = true;
  const readers = Array.from({ length: Number(values['read-concurrency']) }, async (_, r) => {
    let i = r;
    while (reading) {
      const t = performance.now();
      try {
        const generation = await views.currentGeneration();
        const user = `u${1 + (i++ * 7919) % Math.min(users, 5_000)}`;
        const [feed] = await views.zrangeByScoreDescMany(generation, [feedKey(user)], { limit: 20 });
        await views.hgetallMany(generation, feed.map((m) => statsKey(m.member.split('|')[0])));
        if (feed.length === 0) empty++;
      } catch {
        failed++;
      }
      latencies.push({ at: Date.now(), ms: performance.now() - t });
      // Paced (about 1k reads/s per reader): serving shares the process with the rebuild, as in `npm start`.
      await sleep(1);
    }
  });
  // Empty feeds exist (users who follow nobody active); count the baseline before the replay.
  await sleep(2000);
  const emptyBefore = empty;
  const readsBefore = latencies.length;

  const progress = await live.replay({ processors: 'all' });
  let printed = 0;
  let caughtUpAt = 0;
  while (progress.phase === 'replaying' || progress.phase === 'switching') {
    if (progress.phase === 'switching' && !caughtUpAt) caughtUpAt = Date.now();
    if (Date.now() - printed > 5000 && progress.total > 0) {
      printed = Date.now();
      console.log(`  replay ${progress.generation}: ${fmt(progress.replayed)} / ${fmt(progress.total)} records, ${fmt(progress.eventsPerSecond)} records/s, ~${progress.secondsLeft ?? '?'} s left`);
    }
    await sleep(50);
  }
  await live.settled();
  const switchedAt = progress.finishedAt ?? Date.now();
  await sleep(1000);
  reading = false;
  await Promise.all(readers);
  await live.stop();

  if (progress.phase !== 'done') throw new Error(`replay failed: ${progress.error}`);
  const rebuildS = ((caughtUpAt || switchedAt) - progress.startedAt) / 1000;
  const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
  const window = latencies.filter((l) => l.at >= (caughtUpAt || switchedAt) - 500 && l.at <= switchedAt + 500).map((l) => l.ms).sort((a, b) => a - b);
  const emptyRate = (empty - emptyBefore) / Math.max(1, latencies.length - readsBefore);
  console.log('');
  console.log(`RESULT replay ${mode}: ${fmt(produced)} source events rebuilt in ${rebuildS.toFixed(1)} s = ${fmt(produced / rebuildS)} source events/s (${fmt(progress.replayed / rebuildS)} processor input records/s)`);
  console.log(`RESULT switch: ${((switchedAt - (caughtUpAt || switchedAt)) / 1000).toFixed(2)} s from caught-up to old generation dropped; serving unavailable: ${failed === 0 ? 'never' : `${failed} failed reads`}`);
  console.log(`RESULT reads: ${fmt(all.length)} during the run, p50 ${percentile(all, 50).toFixed(2)} ms, p99 ${percentile(all, 99).toFixed(2)} ms, max ${all.at(-1)!.toFixed(2)} ms; `
    + `in the switch window ${fmt(window.length)} reads, p99 ${percentile(window, 99).toFixed(2)} ms, max ${(window.at(-1) ?? NaN).toFixed(2)} ms; empty feeds ${(100 * emptyRate).toFixed(1)}% (before replay ${(100 * emptyBefore / Math.max(1, readsBefore)).toFixed(1)}%)`);
} finally {
  await platform.close();
}
