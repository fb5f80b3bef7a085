// Sink throughput: applyBatch of 5,000 mixed effects on Redis (beside a PING round trip in the same run)
// and on the embedded store, and the chDB insert rate of event rows.
//
//   npx tsx bench/sink-throughput.ts [--redis redis://127.0.0.1:16379] [--batches 20] [--rows 100000]
// Redis is skipped when unreachable. Data goes to a temporary directory that is removed afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import type { Effect } from '../processors/effects.ts';
import { taggedMember } from '../processors/effects.ts';
import { createAnalyticsStore } from '../sinks/analytics/analytics-store.ts';
import { eventsRow } from '../processors/analytics/analytics.ts';
import { createEmbeddedViewStore } from '../sinks/embedded/embedded-view-store.ts';
import { createRedisViewStore } from '../sinks/redis/redis-view-store.ts';
import type { ViewStore } from '../sinks/view-store.ts';
import type { DarkroomEvent } from '../schemas/events.ts';

const { values } = parseArgs({
  options: {
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
    batches: { type: 'string', default: '20' },
    rows: { type: 'string', default: '100000' },
  },
});
const batches = Number(values.batches);
const EFFECTS = 5000;

/** What a busy micro-batch looks like: feed fanout with cap, counters, seen-state, a tag removal, stats. */
function mixedBatch(round: number): Effect[] {
  const effects: Effect[] = [];
  const now = Date.now();
  for (let i = 0; effects.length < EFFECTS; i++) {
    const n = round * EFFECTS + i;
    effects.push({ kind: 'zadd', key: `feed:u${n % 1000}`, member: taggedMember(`p${n}`, `a${n % 50}`), score: n, cap: 800 });
    effects.push({ kind: 'hincr', key: `post:p${n % 500}`, field: 'likes', by: 1 });
    effects.push({ kind: 'sadd', key: `seen:u${n % 1000}`, member: `p${n}`, expiresAt: now + 86_400_000 });
    effects.push({ kind: 'hset', key: `profile:u${n % 1000}`, fields: { username: `user${n % 1000}` } });
    if (i % 100 === 0) effects.push({ kind: 'zremTagged', key: `feed:u${n % 1000}`, tag: `a${(n + 1) % 50}` });
  }
  return effects.slice(0, EFFECTS);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

async function benchStore(label: string, store: ViewStore): Promise<number> {
  await store.applyBatch({ generation: 'bench', processor: 'warmup', effects: mixedBatch(0), offsets: [] });
  const times: number[] = [];
  for (let round = 1; round <= batches; round++) {
    const effects = mixedBatch(round);
    const started = performance.now();
    await store.applyBatch({ generation: 'bench', processor: 'bench', effects, offsets: [{ topic: 'posts', partition: 0, offset: round * EFFECTS }] });
    times.push(performance.now() - started);
  }
  const m = median(times);
  console.log(`${label.padEnd(10)} applyBatch ${EFFECTS} effects: median ${fmt(m)}, min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))} → ${Math.round(EFFECTS / (m / 1000)).toLocaleString('en')} effects/s`);
  return m;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-'));
try {
  // Redis
  let redisStore: ViewStore | undefined;
  const namespace = `drbench-${process.pid}`;
  try {
    redisStore = await createRedisViewStore({ url: values.redis!, namespace, connectTimeoutMs: 1000 });
  } catch (error) {
    console.log(`redis      skipped: ${(error as Error).message}`);
  }
  if (redisStore) {
    const redis = new Redis(values.redis!);
    const pings: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await redis.ping();
      pings.push(performance.now() - started);
    }
    console.log(`redis      PING round trip: median ${fmt(median(pings))}`);
    const evalStats = async () => {
      const line = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:')) ?? '';
      return { calls: Number(/calls=(\d+)/.exec(line)?.[1] ?? 0), usec: Number(/usec=(\d+)/.exec(line)?.[1] ?? 0) };
    };
    const before = await evalStats();
    await benchStore('redis', redisStore);
    const after = await evalStats();
    // Server-side time of the batch script alone (the rest is building and sending ~25k arguments).
    console.log(`redis      batch script inside Redis: ${fmt((after.usec - before.usec) / 1000 / Math.max(1, after.calls - before.calls))} mean per batch`);
    const keys = await redis.keys(`${namespace}:*`);
    for (let i = 0; i < keys.length; i += 1000) await redis.unlink(...keys.slice(i, i + 1000));
    await redis.quit();
    await redisStore.close();
  }

  // Embedded
  const embedded = await createEmbeddedViewStore({ dataDir: tmp });
  await benchStore('embedded', embedded);
  const reads: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await embedded.zrangeByScoreDescMany('bench', Array.from({ length: 20 }, (_, k) => `feed:u${(i * 20 + k) % 1000}`), { limit: 20 });
    reads.push(performance.now() - started);
  }
  console.log(`embedded   read 20 feeds x 20 entries: median ${fmt(median(reads))}`);
  await embedded.close();

  // chDB
  const rows = Number(values.rows);
  const analytics = await createAnalyticsStore({ dataDir: tmp });
  const perBatch = 10_000;
  const started = performance.now();
  for (let offset = 0; offset < rows; offset += perBatch) {
    const batch = [];
    for (let i = offset; i < Math.min(rows, offset + perBatch); i++) {
      const event: DarkroomEvent = i % 3 === 0
        ? { type: 'post_created', event_id: `e${i}`, ts: Date.now(), post_id: `p${i}`, author_id: `u${i % 1000}`, caption: 'hi', media_type: 'photo', hashtags: ['cats', `t${i % 20}`] }
        : { type: 'like', event_id: `e${i}`, ts: Date.now(), user_id: `u${i % 1000}`, post_id: `p${i % 5000}` };
      batch.push({ kind: 'row' as const, table: 'events', row: eventsRow(event, { topic: 'posts', partition: i % 4, offset: i }) });
    }
    await analytics.applyBatch({ processor: 'bench', rows: batch });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`chdb       ${rows.toLocaleString('en')} event rows in batches of ${perBatch.toLocaleString('en')}: ${seconds.toFixed(2)} s → ${Math.round(rows / seconds).toLocaleString('en')} rows/s (incl. 3 materialized views)`);
  await analytics.close();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
