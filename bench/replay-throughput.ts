// Replay benchmark: how fast a replay rebuilds every view, and what serving sees during the switch.
//
//   npx tsx bench/replay-throughput.ts [--mode embedded|kafka-redis] [--events N] [--users U]
//       [--workers W] [--partitions P] [--read-concurrency C] [--max-batch-effects N] [--linger-ms MS]
//       [--cpu-profile FILE] [--snapshot] [--first-build-as-rebuild] [--standalone] [--restart]
//
// 1. Fill: the simulator's world and N stream events are encoded here (serde.encodeSync) and
//    produced straight to the backend in large per-topic batches, several in flight: the bench
//    measures replay, not ingest (bench/http-ingest.ts does). Generating, encoding and producing are
//    timed apart.
// 2. First build: the live view processors (processors/replay/live-views.ts startLiveViews, as in `darkroom
//    start`) build generation g1 from offset 0 until lag 0. That is a rebuild too, without readers
//    and without a live pipeline beside it; its rate is reported as well.
// 3. Replay: `replay all` rebuilds g2 from offset 0 while readers keep reading feeds and post stats
//    of the current generation (the read API's store calls), paced at ~1k reads/s per reader.
//    Reported: source events replayed per second (N + world over the rebuild's wall time until caught
//    up), processor input records/s, which processor was last to catch up, read latency p50/p99/max
//    and failed or empty reads, overall and in the switch window (caught-up → old generation dropped),
//    the event-loop delay of the main thread (where `npm start` serves) and peak memory. A read is
//    timed from when it was due, so time the main thread spent blocked counts (until 2026-12-06 it
//    was timed from when it began, which left such stalls out).
// 4. With --snapshot: `snapshot create` of the new generation (a copy inside the store) and a replay
//    from that snapshot, timed.
//    With --standalone the live views stop first and the replay is `darkroom replay` with no platform
//    running (processors/replay/standalone.ts replayStandalone): a rebuild that ends when caught up, so it runs
//    feed-fanout on a thread of its own (REBUILD_OWN_THREADS). The readers keep reading the store.
// 5. With --restart: the live views stop and start again on the replayed generation, as after a
//    restart of `npm start`: timed until every processor has restored its state from the topics and
//    the views have no lag, with each processor's restore time as the runtime reports it.
// --max-batch-effects / --linger-ms override the rebuild's batching (processors/replay/batching.ts
// REBUILD_BATCHING); the first build batches as `darkroom start` does on an empty store (the rebuild's
// batching until caught up on the embedded store, then the live one), or with --first-build-as-rebuild
// the rebuild's throughout. Analytics is not part of a replay (rows are facts), so it does not run here.
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';
import { createSimulation } from '../simulator/index.ts';
import type { ProduceRecord } from '../topics/types.ts';
import { startPipeline } from '../processors/pipeline.ts';
import { REBUILD_BATCHING, replayStandalone, startLiveViews, type ReplayProgress, type StartViews } from '../processors/replay/index.ts';
import { viewSink } from '../sinks/view-store.ts';
import { pipelineStatus } from '../serving/status.ts';
import { feedKey } from '../processors/feed-fanout/keys.ts';
import { statsKey } from '../processors/engagement-counters/keys.ts';
import { openBenchPlatform, percentile, sleep, startCpuProfile, type BenchMode } from './pipeline-harness.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'embedded' },
    events: { type: 'string', default: '10000000' },
    users: { type: 'string', default: '100000' },
    workers: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '8' },
    'read-concurrency': { type: 'string', default: '2' },
    'max-batch-effects': { type: 'string' },
    'linger-ms': { type: 'string' },
    'cpu-profile': { type: 'string' },
    /** After the replay, also time `snapshot create` of the new generation and a replay from it. */
    snapshot: { type: 'boolean', default: false },
    'first-build-as-rebuild': { type: 'boolean', default: false },
    standalone: { type: 'boolean', default: false },
    restart: { type: 'boolean', default: false },
    brokers: { type: 'string', default: '127.0.0.1:19092' },
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
  },
});
const mode = values.mode as BenchMode;
if (mode !== 'embedded' && mode !== 'kafka-redis') {
  console.error(`--mode must be embedded or kafka-redis, got ${values.mode}`);
  process.exit(2);
}
const events = Number(values.events);
const users = Number(values.users);
const workers = Number(values.workers);
const partitions = Number(values.partitions);
const tuning = {
  maxBatchEffects: values['max-batch-effects'] === undefined ? undefined : Number(values['max-batch-effects']),
  lingerMs: values['linger-ms'] === undefined ? undefined : Number(values['linger-ms']),
};
for (const [name, v] of Object.entries({ events, users, workers, partitions, ...tuning })) {
  if (v !== undefined && (!Number.isFinite(v) || v < 0)) {
    console.error(`--${name} must be a non-negative number, got ${v}`);
    process.exit(2);
  }
}
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => (ms / 1000).toFixed(1);
/** RssAnon of /proc/self/status in bytes (Linux); the whole RSS elsewhere. */
function anonymousRss(): number {
  try {
    const kb = /RssAnon:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch { /* not Linux */ }
  return process.memoryUsage.rss();
}

const platform = await openBenchPlatform({ mode, partitions, workers, kafkaBrokers: values.brokers!, redisUrl: values.redis! });
const { backend, codec, views, topology, dataDir, serde } = platform;
/**
 * As in `darkroom start`: rebuilds get the batching replay asks for (REBUILD_BATCHING), overridden by
 * --max-batch-effects / --linger-ms; the first build (groups "darkroom") takes what startLiveViews asks
 * (the rebuild's batching until caught up on the embedded store, then the live one), or the rebuild's
 * throughout with --first-build-as-rebuild.
 */
const defined = Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined));
const startViews: StartViews = (generation, groupPrefix, only, asked, ownThreads, writtenBefore) => {
  const batching = groupPrefix !== 'darkroom' ? { ...asked, ...defined } : values['first-build-as-rebuild'] ? REBUILD_BATCHING[views.kind] : { ...asked };
  return startPipeline({
    backend, codec, topology, groupPrefix, only, sinkFor: (name) => viewSink(views, generation, name),
    workers, ownThreads, writtenBefore, ...batching,
    workerSetup: { dataDir, topology: { partitions, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 }, generation, groupPrefix, ...batching },
  });
};

try {
  console.log(`replay bench: ${mode}, ${fmt(events)} events, ${fmt(users)} users, ${workers} worker(s), ${partitions} partitions, rebuild batches ${tuning.maxBatchEffects ?? `replay's (${REBUILD_BATCHING[mode === 'embedded' ? 'embedded' : 'redis'].maxBatchEffects ?? 'runtime default'})`} effects / linger ${tuning.lingerMs ?? 'runtime default'} ms`);

  // 1. Fill the topics. Encoding is synchronous once the serde is warm; each topic gets one produce
  //    of a whole chunk. The embedded log takes up to 4 chunks in flight; the Kafka backend sends one
  //    at a time anyway (idempotent producer) and gives each send a deadline that counts time queued,
  //    so there a chunk is smaller and waits for the previous one.
  const timing = { generate: 0, encode: 0, produce: 0 };
  const started = performance.now();
  const simulation = createSimulation({ users, seed: 1, startTs: Date.now() - 3_600_000, rate: 5_000 });
  let produced = 0;
  let inFlight: Promise<unknown>[] = [];
  const send = async (batch: ReturnType<typeof simulation.next>) => {
    let t = performance.now();
    const byTopic = new Map<string, ProduceRecord[]>();
    for (const event of batch) {
      const { topic, key, value } = serde.encodeSync(event);
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      list.push({ key, value, timestamp: event.ts });
    }
    timing.encode += performance.now() - t;
    for (const [topic, records] of byTopic) inFlight.push(backend.produce(topic, records));
    produced += batch.length;
    if (inFlight.length >= (mode === 'embedded' ? 4 : 1) * byTopic.size) {
      t = performance.now();
      await Promise.all(inFlight);
      inFlight = [];
      timing.produce += performance.now() - t;
    }
  };
  let t = performance.now();
  const world = [...simulation.bootstrap()];
  timing.generate += performance.now() - t;
  const chunk = mode === 'embedded' ? 50_000 : 20_000;
  for (let i = 0; i < world.length; i += chunk) await send(world.slice(i, i + chunk));
  let nextReport = 1_000_000;
  for (let sent = 0; sent < events; sent += chunk) {
    t = performance.now();
    const batch = simulation.next(Math.min(chunk, events - sent));
    timing.generate += performance.now() - t;
    await send(batch);
    if (sent + batch.length >= nextReport) {
      nextReport += 1_000_000;
      console.log(`  produced ${fmt(sent + batch.length)} events (${seconds(performance.now() - started)} s)`);
    }
  }
  t = performance.now();
  await Promise.all(inFlight);
  timing.produce += performance.now() - t;
  const fillMs = performance.now() - started;
  console.log(`  filled ${fmt(produced)} source events (world ${fmt(world.length)}) in ${seconds(fillMs)} s = ${fmt(produced / (fillMs / 1000))} events/s: `
    + `generating ${seconds(timing.generate)} s, encoding ${seconds(timing.encode)} s, waiting for produce acks ${seconds(timing.produce)} s`);

  // 2. First build of g1 by the live view processors.
  const live = await startLiveViews({ views, backend, topology, startViews, pollMs: 500, log: (l) => console.log(`  [views] ${l}`) });
  const liveStarted = Date.now();
  let reported = Date.now();
  for (;;) {
    const status = await pipelineStatus(backend, live.processors());
    // Complete when caught up, serving, and no processor is restoring its state: until 2026-12-06 21:00
    // a first start behind its topics restarted its processors once caught up, and the restore that
    // followed was not counted.
    if (status.lag === 0 && live.status().state === 'serving' && live.processors().every((p) => !p.running.progress().restoring)) break;
    if (Date.now() - reported > 30_000) {
      reported = Date.now();
      const behind = Object.entries(status.processors).filter(([, p]) => p.lag > 0).map(([name, p]) => `${name} ${fmt(p.lag)}`).join(', ');
      console.log(`  first build: ${seconds(Date.now() - liveStarted)} s, records behind: ${behind}`);
    }
    await sleep(1000);
  }
  const firstBuildS = (Date.now() - liveStarted) / 1000;
  console.log(`  first build of g1 (live processors, ${values['first-build-as-rebuild'] ? 'the rebuild\'s batching' : 'batching as darkroom start does'}, no readers): ${firstBuildS.toFixed(1)} s = ${fmt(produced / firstBuildS)} source events/s`);

  // 3. Readers: a page of feeds and post stats, like the read API does per request.
  const latencies: Array<{ at: number; ms: number }> = [];
  let failed = 0;
  let empty = 0;
  let reading = true;
  const readers = Array.from({ length: Number(values['read-concurrency']) }, async (_, r) => {
    let i = r;
    // A read is timed from when it was due, not from when it began: while the event loop is blocked
    // (a long write transaction on this thread), a request to the read API would wait just as long.
    let due = performance.now();
    while (reading) {
      try {
        const generation = await views.currentGeneration();
        const user = `u${1 + (i++ * 7919) % Math.min(users, 5_000)}`;
        const [feed] = await views.zrangeByScoreDescMany(generation, [feedKey(user)], { limit: 20 });
        await views.hgetallMany(generation, feed.map((m) => statsKey(m.member.split('|')[0])));
        if (feed.length === 0) empty++;
      } catch {
        failed++;
      }
      const ended = performance.now();
      latencies.push({ at: Date.now(), ms: ended - due });
      // Paced (about 1k reads/s per reader): serving shares the process with the rebuild, as in `npm start`.
      await sleep(1);
      due = ended + 1;
    }
  });
  // Empty feeds exist (users who follow nobody active); count the baseline before the replay.
  await sleep(2000);
  const emptyBefore = empty;
  const readsBefore = latencies.length;

  const profile = await startCpuProfile(values['cpu-profile'], 'CPU profile of the replay');
  // How long this thread (serving's, in `npm start`) could not answer anything while the rebuild ran.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const replayAskedAt = Date.now();
  let standalone: Promise<ReplayProgress> | undefined;
  let progress: ReplayProgress;
  if (values.standalone) {
    await live.stop();
    let first!: (p: ReplayProgress) => void;
    const firstProgress = new Promise<ReplayProgress>((resolve) => (first = resolve));
    standalone = replayStandalone({ views, backend, topology, startViews, pollMs: 200, followGraceMs: 0, onProgress: (p) => first(p) });
    progress = await Promise.race([firstProgress, standalone]);
  } else {
    progress = await live.replay({ processors: 'all' });
  }
  let printed = 0;
  let caughtUpAt = 0;
  const lastBehind = new Map<string, number>();
  // The JS heap the rebuild holds at most: its batches (effects kept until the sink commits) live here.
  // The process' anonymous resident memory counts the worker threads too (a standalone replay runs
  // feed-fanout on one) and leaves out the memory-mapped stores, which the OS may drop at any time.
  // With --expose-gc the figure is what the heap holds, not the garbage the first build left behind.
  (globalThis as { gc?: () => void }).gc?.();
  const heapBefore = v8.getHeapStatistics().used_heap_size;
  const rssBefore = anonymousRss();
  let heapPeak = heapBefore;
  let rssPeak = rssBefore;
  while (progress.phase === 'replaying' || progress.phase === 'switching') {
    heapPeak = Math.max(heapPeak, v8.getHeapStatistics().used_heap_size);
    rssPeak = Math.max(rssPeak, anonymousRss());
    if (progress.phase === 'switching' && !caughtUpAt) caughtUpAt = Date.now();
    if (progress.phase === 'replaying') for (const [name, lag] of Object.entries(progress.lagByProcessor)) if (lag > 0) lastBehind.set(name, Date.now());
    if (Date.now() - printed > 10_000 && progress.total > 0) {
      printed = Date.now();
      const behind = Object.entries(progress.lagByProcessor).filter(([, lag]) => lag > 0).map(([name, lag]) => `${name} ${fmt(lag)}`).join(', ');
      console.log(`  replay ${progress.generation}: ${fmt(progress.replayed)} / ${fmt(progress.total)} records, ${fmt(progress.eventsPerSecond)} records/s, ~${progress.secondsLeft ?? '?'} s left (behind: ${behind || 'none'})`);
    }
    await sleep(50);
  }
  await (standalone ?? live.settled());
  loopDelay.disable();
  await profile.stop();
  const switchedAt = progress.finishedAt ?? Date.now();
  await sleep(1000);
  reading = false;
  await Promise.all(readers);
  let snapshotLine = '';
  if (values.snapshot && progress.phase === 'done' && !standalone) {
    // Copying a whole generation, then a replay from that snapshot (nothing after it to process: the
    // copy into the new generation, the restore of stateful processors, the switch).
    let t0 = Date.now();
    const snap = await live.snapshot();
    const copyS = (Date.now() - t0) / 1000;
    t0 = Date.now();
    const fromSnapshot = await live.replay({ processors: 'all', fromSnapshot: snap.generation });
    await live.settled();
    snapshotLine = `RESULT snapshot: create copied ${fmt(snap.views)} views in ${copyS.toFixed(1)} s; replay from it ${fromSnapshot.phase} in ${((Date.now() - t0) / 1000).toFixed(1)} s (${fmt(fromSnapshot.replayed)} records after the snapshot)`;
  }
  await live.stop();
  let restartLine = '';
  if (values.restart && progress.phase === 'done') {
    const t0 = Date.now();
    const again = await startLiveViews({ views, backend, topology, startViews, pollMs: 500 });
    await Promise.all(again.processors().map((p) => p.running.restored()));
    const restoredS = (Date.now() - t0) / 1000;
    while ((await pipelineStatus(backend, again.processors())).lag > 0) await sleep(100);
    const caughtUpS = (Date.now() - t0) / 1000;
    const each = again.processors().map((p) => [p.name, p.running.progress().restoreMs] as const)
      .filter(([, ms]) => ms !== undefined).sort((a, b) => b[1]! - a[1]!)
      .map(([name, ms]) => `${name} ${seconds(ms!)} s`).join(', ');
    await again.stop();
    restartLine = `RESULT restart on ${progress.generation}: every processor restored ${restoredS.toFixed(1)} s after the start, no lag after ${caughtUpS.toFixed(1)} s (${fmt(produced / restoredS)} source events/s of history); restores: ${each}`;
  }

  if (progress.phase !== 'done') throw new Error(`replay failed: ${progress.error}`);
  const rebuildS = ((caughtUpAt || switchedAt) - progress.startedAt) / 1000;
  const all = latencies.map((l) => l.ms).sort((a, b) => a - b);
  const window = latencies.filter((l) => l.at >= (caughtUpAt || switchedAt) - 500 && l.at <= switchedAt + 500).map((l) => l.ms).sort((a, b) => a - b);
  const emptyRate = (empty - emptyBefore) / Math.max(1, latencies.length - readsBefore);
  const last = [...lastBehind].sort((a, b) => b[1] - a[1]).map(([name, at]) => `${name} ${((at - progress.startedAt) / 1000).toFixed(0)} s`).join(', ');
  console.log('');
  console.log(`RESULT fill: ${fmt(produced)} source events in ${seconds(fillMs)} s (generate ${seconds(timing.generate)} s, encode ${seconds(timing.encode)} s, produce acks ${seconds(timing.produce)} s); first build of g1 ${firstBuildS.toFixed(1)} s = ${fmt(produced / firstBuildS)} source events/s`);
  console.log(`RESULT replay ${mode}${standalone ? ' (standalone)' : ''}: ${fmt(produced)} source events rebuilt in ${rebuildS.toFixed(1)} s = ${fmt(produced / rebuildS)} source events/s (${fmt(progress.replayed / rebuildS)} processor input records/s); processors caught up last: ${last}`);
  console.log(`RESULT replay start: its processors were started ${((progress.startedAt - replayAskedAt) / 1000).toFixed(2)} s after the replay was asked for (not in the time above)`);
  console.log(`RESULT memory: JS heap of the main thread ${fmt(heapBefore / 1e6)} MB before the replay, peak ${fmt(heapPeak / 1e6)} MB during it; process anonymous RSS ${fmt(rssBefore / 1e6)} MB before, peak ${fmt(rssPeak / 1e6)} MB`);
  const delayMs = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(`RESULT event loop of the main thread (serving's) during the replay: delay p50 ${delayMs(loopDelay.percentile(50))} ms, p99 ${delayMs(loopDelay.percentile(99))} ms, max ${delayMs(loopDelay.max)} ms (10 ms resolution)`);
  console.log(`RESULT switch: ${((switchedAt - (caughtUpAt || switchedAt)) / 1000).toFixed(2)} s from caught-up to old generation dropped; serving unavailable: ${failed === 0 ? 'never' : `${failed} failed reads`}`);
  console.log(`RESULT reads: ${fmt(all.length)} during the run, p50 ${percentile(all, 50).toFixed(2)} ms, p99 ${percentile(all, 99).toFixed(2)} ms, max ${all.at(-1)!.toFixed(2)} ms; `
    + `in the switch window ${fmt(window.length)} reads, p99 ${percentile(window, 99).toFixed(2)} ms, max ${(window.at(-1) ?? NaN).toFixed(2)} ms; empty feeds ${(100 * emptyRate).toFixed(1)}% (before replay ${(100 * emptyBefore / Math.max(1, readsBefore)).toFixed(1)}%)`);
  if (snapshotLine) console.log(snapshotLine);
  if (restartLine) console.log(restartLine);
  console.log(`RESULT total wall time ${seconds(performance.now() - started)} s`);
} finally {
  await platform.close();
}
