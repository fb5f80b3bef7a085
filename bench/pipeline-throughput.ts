// End-to-end pipeline benchmark: simulated traffic through every processor into every view.
//
//   npx tsx bench/pipeline-throughput.ts [--mode embedded|kafka-redis] [--events N] [--users U]
//       [--workers W] [--partitions P] [--rate R] [--duration S] [--skip-latency] [--cpu-profile FILE] [--alloc-profile FILE] [--latency-cpu-profile FILE]
//       [--max-batch-effects N] [--linger-ms MS] [--own-thread P1,P2]
//
// 1. Throughput: the topics are pre-filled with the simulator's world (a profile per user, every
//    follow) and N stream events (the simulator's mix), then the pipeline starts and we time it until
//    lag 0: every processor's sink (views and chDB analytics) holds every record of its inputs.
//    In kafka-redis mode a raw kafkajs consume loop reads the same source topics first, as the ceiling.
// 2. Latency: on the caught-up platform, the producer offers R events/s (default 10k) for S seconds
//    (default 20); an event's latency is the time from its produce ack until every processor that reads
//    its topic has applied a sink batch holding its offset (as the runtime reports it, onBatch offsets),
//    and every processor that reads an internal (repartition) record made from it has applied that one
//    too: a post's hashtags count as in the trending view only once trending-hashtags applied them.
import { parseArgs } from 'node:util';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { createSimulation, type Simulation } from '../simulator/index.ts';
import type { DarkroomEvent } from '../schemas/events.ts';
import type { TopicPartitionOffset } from '../topics/types.ts';
import { openBenchPlatform, percentile, sleep, startAllocationProfile, startCpuProfile, SOURCE_TOPICS, type BenchMode, type BenchPlatform } from './pipeline-harness.ts';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'embedded' },
    events: { type: 'string', default: '200000' },
    users: { type: 'string', default: '10000' },
    workers: { type: 'string', default: '1' },
    partitions: { type: 'string', default: '8' },
    rate: { type: 'string', default: '10000' },
    duration: { type: 'string', default: '20' },
    'skip-latency': { type: 'boolean', default: false },
    'max-batch-effects': { type: 'string' },
    'linger-ms': { type: 'string' },
    'analytics-linger-ms': { type: 'string' },
    /** View processors on a worker thread of their own (what a standalone rebuild does with feed-fanout). */
    'own-thread': { type: 'string' },
    /** Writes a V8 CPU profile of the throughput phase only (open it in Chrome DevTools). */
    'cpu-profile': { type: 'string' },
    /** Where the throughput phase allocates, garbage included (a .heapprofile for Chrome DevTools). */
    'alloc-profile': { type: 'string' },
    /** A CPU profile of the latency phase (offered load, then until lag 0). */
    'latency-cpu-profile': { type: 'string' },
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
const offeredRate = Number(values.rate);
const durationS = Number(values.duration);
for (const [name, v] of Object.entries({ events, users, workers, partitions, rate: offeredRate, duration: durationS })) {
  if (!Number.isFinite(v) || v < 0 || (name !== 'events' && v === 0)) {
    console.error(`--${name} must be a positive number, got ${v}`);
    process.exit(2);
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en');
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

async function send(platform: BenchPlatform, batch: DarkroomEvent[]): Promise<void> {
  await platform.producer.send(batch);
}

async function prefill(platform: BenchPlatform, simulation: Simulation): Promise<number> {
  let chunk: DarkroomEvent[] = [];
  const flushes: Promise<void>[] = [];
  const flush = async () => {
    const batch = chunk;
    chunk = [];
    flushes.push(send(platform, batch));
    if (flushes.length >= 4) await flushes.shift();
  };
  for (const event of simulation.bootstrap()) {
    chunk.push(event);
    if (chunk.length >= 5000) await flush();
  }
  if (chunk.length) await flush();
  for (let sent = 0; sent < events; sent += 5000) {
    chunk = simulation.next(Math.min(5000, events - sent));
    await flush();
  }
  await Promise.all(flushes);
  return platform.sourceRecords();
}

/** A plain kafkajs consumer over the same source topics, no decoding: the ceiling of any Kafka pipeline. */
async function rawKafkaConsume(platform: BenchPlatform, total: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-raw', brokers: values.brokers!.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${platform.namespace}.raw-loop`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: SOURCE_TOPICS.map((t) => `${platform.namespace}.${t}`), fromBeginning: true });
  let seen = 0;
  const started = performance.now();
  const ms = await new Promise<number>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: partitions,
      eachBatch: async ({ batch }) => {
        seen += batch.messages.length;
        if (seen >= total) resolve(performance.now() - started);
      },
    });
  });
  await consumer.disconnect();
  return (total / ms) * 1000;
}

async function throughput(platform: BenchPlatform, total: number): Promise<void> {
  const profile = await startCpuProfile(values['cpu-profile']);
  const allocations = await startAllocationProfile(values['alloc-profile']);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const batches = new Map<string, { batches: number; records: number; effects: number; sinkMs: number }>();
  await platform.startPipeline({
    onBatch: (processor, info) => {
      const b = batches.get(processor) ?? { batches: 0, records: 0, effects: 0, sinkMs: 0 };
      b.batches++; b.records += info.records; b.effects += info.effects; b.sinkMs += info.sinkMs;
      batches.set(processor, b);
    },
  });
  // On Kafka every processor joins a consumer group before it reads: the time until all have joined.
  console.log(`  every processor started (consumer groups joined, sink offsets read) ${((performance.now() - started) / 1000).toFixed(2)} s after the start`);
  let lastPrint = started;
  for (;;) {
    const lag = await platform.lag();
    if (lag === 0) break;
    if (performance.now() - lastPrint > 5000) {
      lastPrint = performance.now();
      console.log(`  ... lag ${fmt(lag)} after ${((lastPrint - started) / 1000).toFixed(0)} s, rss ${fmt(process.memoryUsage().rss / 1e6)} MB; behind: ${await platform.behind()}`);
    }
    await sleep(20);
  }
  const ms = performance.now() - started;
  const cpu = cpuSeconds(process.cpuUsage(cpuBefore));
  await profile.stop();
  await allocations.stop();
  console.log(`pipeline: ${fmt(total)} source events through ${platform.topology.nodes.length} processors into every view in ${(ms / 1000).toFixed(2)} s`
    + ` → ${fmt((total / ms) * 1000)} events/s (process CPU ${cpu.toFixed(1)} s, rss ${fmt(process.memoryUsage().rss / 1e6)} MB)`);
  // Where the time went per processor: a processor whose sink time nears the wall time bounds the run.
  for (const [name, b] of batches) {
    console.log(`  ${name}: ${fmt(b.batches)} batches, ${fmt(b.records / b.batches)} records and ${fmt(b.effects / b.batches)} effects per batch,`
      + ` sink ${(b.sinkMs / 1000).toFixed(2)} s (${fmt(b.sinkMs / b.batches)} ms per batch)`);
  }
}

interface Sent { topic: string; partition: number; offset: number; ackAt: number }

async function latency(platform: BenchPlatform, simulation: Simulation): Promise<void> {
  // Per processor and topic-partition: the offsets its sink applied, in order, with the time.
  const applied = new Map<string, { offsets: number[]; at: number[] }>();
  const readers = new Map<string, string[]>();
  for (const node of platform.topology.nodes) {
    for (const topic of node.processor.inputs) {
      if (!readers.has(topic)) readers.set(topic, []);
      readers.get(topic)!.push(node.processor.name);
    }
  }
  const onBatch = (processor: string, offsets: TopicPartitionOffset[]) => {
    const at = performance.now();
    for (const o of offsets) {
      const key = `${processor}|${o.topic}:${o.partition}`;
      let list = applied.get(key);
      if (!list) applied.set(key, (list = { offsets: [], at: [] }));
      list.offsets.push(o.offset);
      list.at.push(at);
    }
  };
  // The pipeline is caught up; restart it with an observer that records applied offsets.
  await platform.pipeline!.stop();
  // Per processor: batches, their sizes and sink time, to see which one holds latency up.
  const batches = new Map<string, { n: number; records: number; effects: number; sinkMs: number; maxSinkMs: number }>();
  const restartedAt = performance.now();
  await platform.startPipeline({
    onBatch: (processor, info) => {
      if (info.offsets) onBatch(processor, info.offsets);
      let b = batches.get(processor);
      if (!b) batches.set(processor, (b = { n: 0, records: 0, effects: 0, sinkMs: 0, maxSinkMs: 0 }));
      b.n++; b.records += info.records; b.effects += info.effects; b.sinkMs += info.sinkMs;
      b.maxSinkMs = Math.max(b.maxSinkMs, info.sinkMs);
    },
  });
  const joinedAt = performance.now();
  await platform.pipeline!.restored();
  // A restart on caught-up views: on Kafka every processor joins its consumer group again, and the
  // stateful ones read their inputs again to restore their state.
  const inSeconds = (ms: number) => (ms / 1000).toFixed(2);
  console.log(`  pipeline restarted on caught-up views: every processor started in ${inSeconds(joinedAt - restartedAt)} s, state restored after ${inSeconds(performance.now() - restartedAt)} s`);
  while ((await platform.lag()) > 0) await sleep(20);

  // Where the internal topics end now: the records after this point are made from the offered events.
  const internalFrom = new Map<string, TopicPartitionOffset[]>();
  for (const { name } of platform.topology.internalTopics) internalFrom.set(name, await platform.backend.endOffsets(name));

  const profile = await startCpuProfile(values['latency-cpu-profile']);
  // How long this thread's event loop was held at a time: a sink or a producer that blocks it delays
  // every processor's next batch, which shows up as a shared maximum in the sink times below.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const sent: Sent[] = [];
  const tickMs = 10;
  const perTick = offeredRate / (1000 / tickMs);
  const started = performance.now();
  let offered = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sends: Promise<void>[] = [];
  while (performance.now() - started < durationS * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * offeredRate);
    const count = Math.min(due - offered, perTick * 10);
    if (count > 0) {
      const batch = simulation.next(count);
      offered += count;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      sends.push(sendTracked(platform, batch, sent).finally(() => inFlight--));
    }
    await sleep(tickMs);
  }
  await Promise.all(sends);
  const offerMs = performance.now() - started;
  while ((await platform.lag()) > 0) await sleep(20);
  loopDelay.disable();
  await profile.stop();

  const derived = await internalRecordsBySource(platform, internalFrom);
  let hops = 0;

  const latencies: number[] = [];
  /** The same, to the views product APIs read only (analytics tables left out). */
  const viewLatencies: number[] = [];
  const analytics = new Set(platform.topology.nodes.filter((n) => n.sink === 'analytics').map((n) => n.processor.name));
  /** p99 per second of the run (by ack time) and which processor was last, to tell a stall from a slope. */
  const perSecond = new Map<number, number[]>();
  const lastBy = new Map<string, number>();
  for (const event of sent) {
    let last = '';
    let done = 0;
    let viewsDone = 0;
    const made = derived.get(`${event.topic}:${event.partition}:${event.offset}`) ?? [];
    hops += made.length;
    for (const record of [event, ...made]) {
      for (const processor of readers.get(record.topic) ?? []) {
        const list = applied.get(`${processor}|${record.topic}:${record.partition}`);
        // First applied batch whose next offset is past this record.
        let lo = 0;
        let hi = list ? list.offsets.length : 0;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (list!.offsets[mid] > record.offset) hi = mid; else lo = mid + 1;
        }
        if (!list || lo === list.offsets.length) { done = NaN; break; }
        if (list.at[lo] > done) { done = list.at[lo]; last = processor; }
        if (!analytics.has(processor) && list.at[lo] > viewsDone) viewsDone = list.at[lo];
      }
      if (Number.isNaN(done)) break;
    }
    if (Number.isNaN(done)) continue;
    const ms = Math.max(0, done - event.ackAt);
    latencies.push(ms);
    viewLatencies.push(Math.max(0, viewsDone - event.ackAt));
    const second = Math.floor((event.ackAt - started) / 1000);
    if (!perSecond.has(second)) perSecond.set(second, []);
    perSecond.get(second)!.push(ms);
    if (ms > 100) lastBy.set(last, (lastBy.get(last) ?? 0) + 1);
  }
  const seconds = [...perSecond].sort((a, b) => a[0] - b[0]).map(([, l]) => percentile(l.sort((a, b) => a - b), 99).toFixed(0));
  console.log(`  p99 per second (ms): ${seconds.join(' ')}`);
  console.log(`  second hops followed: ${fmt(hops)} internal records made from the offered events`);
  const delayMs = (ns: number) => (ns / 1e6).toFixed(1);
  console.log(`  event-loop delay (this thread, 10 ms resolution): p50 ${delayMs(loopDelay.percentile(50))} ms, p99 ${delayMs(loopDelay.percentile(99))} ms, max ${delayMs(loopDelay.max)} ms`);
  console.log(`  events over 100 ms, by the processor that applied them last: ${[...lastBy].map(([p, n]) => `${p} ${fmt(n)}`).join(', ') || 'none'}`);
  latencies.sort((a, b) => a - b);
  viewLatencies.sort((a, b) => a - b);
  for (const [processor, b] of batches) {
    console.log(`  ${processor}: ${b.n} batches, ${fmt(b.records / b.n)} records / ${fmt(b.effects / b.n)} effects each, sink ${(b.sinkMs / b.n).toFixed(1)} ms avg, ${b.maxSinkMs.toFixed(0)} ms max`);
  }
  console.log(`latency at ${fmt(offeredRate)} events/s offered for ${durationS} s (achieved ${fmt((offered / offerMs) * 1000)}/s, ${fmt(latencies.length)} events measured,`
    + ` up to ${maxInFlight} produce calls in flight): produce ack → in every view p50 ${percentile(latencies, 50).toFixed(1)} ms,`
    + ` p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${percentile(latencies, 100).toFixed(1)} ms;`
    + ` → in every view product APIs read (analytics tables left out) p50 ${percentile(viewLatencies, 50).toFixed(1)} ms,`
    + ` p99 ${percentile(viewLatencies, 99).toFixed(1)} ms, max ${percentile(viewLatencies, 100).toFixed(1)} ms`);
}

/**
 * The internal records written after `from`, by the source record they were made from ("topic:
 * partition:offset"), following chains (an internal record made from an internal record).
 */
async function internalRecordsBySource(platform: BenchPlatform, from: Map<string, TopicPartitionOffset[]>): Promise<Map<string, TopicPartitionOffset[]>> {
  const parent = new Map<string, string>();
  const records: TopicPartitionOffset[] = [];
  for (const [topic, start] of from) {
    const end = new Map((await platform.backend.endOffsets(topic)).map((o) => [o.partition, o.offset]));
    const open = new Set(start.filter((o) => (end.get(o.partition) ?? 0) > o.offset).map((o) => o.partition));
    if (open.size === 0) continue;
    let finished!: () => void;
    const allRead = new Promise<void>((resolve) => (finished = resolve));
    const consumer = platform.backend.consumer({ groupId: `bench-hops-${topic}-${Date.now()}`, topics: [topic] });
    await consumer.run({
      onAssigned: async (partitions) => start.filter((o) => partitions.some((p) => p.topic === o.topic && p.partition === o.partition)),
      eachBatch: async (batch) => {
        for (const record of batch.records) {
          const last = end.get(record.partition) ?? 0;
          if (record.offset + 1 >= last) open.delete(record.partition);
          if (record.offset >= last) continue;
          let decoded = platform.codec.decode(record);
          if (decoded instanceof Promise) decoded = await decoded;
          const origin = platform.codec.sourceOf(decoded);
          if (!origin) continue;
          parent.set(`${topic}:${record.partition}:${record.offset}`, `${origin.topic}:${origin.partition}:${origin.offset}`);
          records.push({ topic, partition: record.partition, offset: record.offset });
        }
        if (open.size === 0) finished();
      },
    });
    await allRead;
    await consumer.stop();
  }
  const bySource = new Map<string, TopicPartitionOffset[]>();
  for (const record of records) {
    let root = parent.get(`${record.topic}:${record.partition}:${record.offset}`)!;
    while (parent.has(root)) root = parent.get(root)!;
    let list = bySource.get(root);
    if (!list) bySource.set(root, (list = []));
    list.push(record);
  }
  return bySource;
}

/** Sends through the event producer and notes each event's position and ack time. */
async function sendTracked(platform: BenchPlatform, batch: DarkroomEvent[], sent: Sent[]): Promise<void> {
  const byTopic = new Map<string, Array<{ key: string; value: Buffer; timestamp: number }>>();
  for (const event of batch) {
    const { topic, key, value } = platform.serde.encodeSync(event);
    let list = byTopic.get(topic);
    if (!list) byTopic.set(topic, (list = []));
    list.push({ key, value, timestamp: event.ts });
  }
  await Promise.all([...byTopic].map(async ([topic, records]) => {
    const offsets = await platform.backend.produce(topic, records);
    const ackAt = performance.now();
    for (const o of offsets) sent.push({ topic: o.topic, partition: o.partition, offset: o.offset, ackAt });
  }));
}

const batching = {
  maxBatchEffects: values['max-batch-effects'] === undefined ? undefined : Number(values['max-batch-effects']),
  lingerMs: values['linger-ms'] === undefined ? undefined : Number(values['linger-ms']),
  analyticsLingerMs: values['analytics-linger-ms'] === undefined ? undefined : Number(values['analytics-linger-ms']),
  ownThreads: values['own-thread']?.split(',').map((name) => name.trim()).filter(Boolean).map((name) => [name]),
};
const platform = await openBenchPlatform({ mode, partitions, workers, kafkaBrokers: values.brokers!, redisUrl: values.redis!, ...batching });
try {
  console.log(`mode ${mode}, ${partitions} partitions, ${workers} worker thread(s)${batching.ownThreads?.length ? ` + one each for ${batching.ownThreads.flat().join(', ')}` : ''}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  // Event time starts in the recent past so that expiring views (seen-state, stories) stay alive.
  const startTs = Date.now() - Math.ceil(events / 1000) * 1000 - 60_000;
  const simulation = createSimulation({ users, seed: 7, startTs, rate: 1000 });
  const t0 = performance.now();
  const total = await prefill(platform, simulation);
  console.log(`pre-filled ${fmt(total)} source events (${fmt(simulation.bootstrapSize)} world + ${fmt(events)} stream, ${fmt(users)} users) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (mode === 'kafka-redis') {
    const raw = await rawKafkaConsume(platform, total);
    console.log(`raw kafkajs consume loop over the same topics: ${fmt(raw)} records/s (the ceiling; target: pipeline >= half of it)`);
  }
  await throughput(platform, total);
  if (!values['skip-latency']) await latency(platform, simulation);
} finally {
  await platform.close();
}
process.exit(0);
