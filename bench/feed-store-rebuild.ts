// The view store's share of a feed rebuild, alone: feed-fanout's effects for the simulator's world and
// stream (the pure processor, one state per partition as the runtime keys them), applied to a fresh
// view store (embedded, or Redis with --redis) in rebuild-sized batches. Only applyBatch is timed, in
// wall and process CPU time, so a change to the store can be compared without the rest of the
// pipeline beside it. (On Redis most of the work is the server's, outside this process' CPU.)
//
//   NODE_OPTIONS=--max-semi-space-size=64 npx tsx bench/feed-store-rebuild.ts [--events 1000000]
//       [--users 100000] [--batch 1500000] [--celebrity-followers 100000] [--redis redis://127.0.0.1:16379]
//
// --redis applies the batches to the Redis view store instead (a namespace of its own, dropped at the
// end); with --users 10000 --batch 29000 the batches look like the live Kafka + Redis pipeline's.
// --celebrity-followers is feed-fanout's threshold (DARKROOM_CELEBRITY_FOLLOWERS): authors at or above
// it are merged on read, which shows how many of the effects the largest authors cause.
// The effects are made batch by batch (never all at once: 1M stream events make ~20M of them) and
// are the same on every run (fixed seed and start time).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { effectWeight, type Effect } from '../processors/effects.ts';
import { createFeedFanout, isBlockRelayed, type FeedFanoutInput } from '../processors/feed-fanout/index.ts';
import { routeOf, type DarkroomEvent } from '../schemas/events.ts';
import { createSimulation } from '../simulator/index.ts';
import { createEmbeddedViewStore } from '../sinks/embedded/embedded-view-store.ts';
import { createRedisViewStore } from '../sinks/redis/redis-view-store.ts';
import { dropRedisNamespace } from './pipeline-harness.ts';
import { partitionFor } from '../topics/partitioner.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '1500000' },
    'celebrity-followers': { type: 'string', default: '100000' },
    redis: { type: 'string' },
  },
});
const events = Number(values.events);
const users = Number(values.users);
const batchEffects = Number(values.batch);
const celebrityFollowers = Number(values['celebrity-followers']);
for (const [name, v] of Object.entries({ events, users, batch: batchEffects, 'celebrity-followers': celebrityFollowers })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer, got ${v}`);
    process.exit(2);
  }
}
const PARTITIONS = 8;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const simulation = createSimulation({ users, seed: 1, startTs: Date.parse('2026-01-01T00:00:00Z'), rate: 5_000 });
const fanout = createFeedFanout({ celebrityFollowers });
const states = Array.from({ length: PARTITIONS }, (_, p) => fanout.init(p));
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-feed-store-'));
const redisNamespace = `bench-feed-${process.pid}`;
const store = values.redis
  ? await createRedisViewStore({ url: values.redis, namespace: redisNamespace })
  : await createEmbeddedViewStore({ dataDir });

let pending: Effect[] = [];
/** Single-key changes in `pending` (a fanout counts its keys), as the runtime counts a batch. */
let pendingWeight = 0;
/** Relayed blocks go to the blocker's partition, as the internal topic would take them. */
const relayed: FeedFanoutInput[] = [];
let applied = 0;
let batches = 0;
let wallMs = 0;
let cpuMs = 0;

function fold(input: FeedFanoutInput, key: string): void {
  const partition = partitionFor(key, PARTITIONS);
  for (const effect of fanout.apply(states[partition], input, { topic: 'bench', partition, offset: 0 })) {
    if (effect.kind === 'repartition') relayed.push(effect.value as unknown as FeedFanoutInput);
    else {
      pending.push(effect);
      pendingWeight += effectWeight(effect);
    }
  }
}

function foldEvent(event: DarkroomEvent): void {
  fold(event, routeOf(event).key);
  while (relayed.length) {
    const input = relayed.pop()!;
    if (isBlockRelayed(input)) fold(input, input.blocker_id);
  }
}

async function flush(): Promise<void> {
  if (!pending.length) return;
  const effects = pending;
  const weight = pendingWeight;
  pending = [];
  pendingWeight = 0;
  const wall = performance.now();
  const cpu = process.cpuUsage();
  await store.applyBatch({ generation: 'g1', processor: 'feed-fanout', effects, offsets: [] });
  const used = process.cpuUsage(cpu);
  wallMs += performance.now() - wall;
  cpuMs += (used.user + used.system) / 1000;
  applied += weight;
  batches++;
  if (batches % 5 === 0) console.log(`  ${fmt(applied)} effects applied in ${batches} batches, ${fmt(applied / (wallMs / 1000))} effects/s so far`);
}

for (const event of simulation.bootstrap()) {
  foldEvent(event);
  if (pendingWeight >= batchEffects) await flush();
}
for (let left = events; left > 0;) {
  const chunk = simulation.next(Math.min(10_000, left));
  left -= chunk.length;
  for (const event of chunk) {
    foldEvent(event);
    if (pendingWeight >= batchEffects) await flush();
  }
}
await flush();
await store.close();
if (values.redis) await dropRedisNamespace(values.redis, redisNamespace);
fs.rmSync(dataDir, { recursive: true, force: true });
console.log(`RESULT feed store rebuild (${store.kind}): ${fmt(applied)} feed-fanout effects of ${fmt(events)} stream events + the world (${fmt(users)} users, celebrities from ${fmt(celebrityFollowers)} followers) in ${batches} batches: `
  + `applyBatch ${(wallMs / 1000).toFixed(1)} s wall = ${fmt(applied / (wallMs / 1000))} effects/s, ${(cpuMs / 1000).toFixed(1)} s process CPU`);
