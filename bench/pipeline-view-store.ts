// Micro-benchmark of the embedded view store on the pipeline's hottest write: fanout of posts into
// capped home feeds (zadd + cap) that already hold `--feed` entries, scores a little out of order
// (posts of several partitions interleave), plus counters. Same effects, same seed on every run.
//
//   npx tsx bench/pipeline-view-store.ts [--feeds 2000] [--feed 800] [--batches 20] [--effects 5000]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Effect } from '../processors/effects.ts';
import { createEmbeddedViewStore } from '../sinks/embedded/embedded-view-store.ts';

const { values } = parseArgs({
  options: {
    feeds: { type: 'string', default: '2000' },
    feed: { type: 'string', default: '800' },
    batches: { type: 'string', default: '20' },
    effects: { type: 'string', default: '5000' },
  },
});
const feeds = Number(values.feeds);
const feedLength = Number(values.feed);
const batches = Number(values.batches);
const perBatch = Number(values.effects);

let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-view-bench-'));
const store = await createEmbeddedViewStore({ dataDir });
try {
  let ts = 1_700_000_000_000;
  let post = 0;
  const fill: Effect[] = [];
  for (let f = 0; f < feeds; f++) {
    for (let i = 0; i < feedLength; i++) fill.push({ kind: 'zadd', key: `feed:u${f}`, member: `p${post++}|u${i % 97}`, score: ts + i, cap: feedLength });
    if (fill.length >= 50_000) await store.applyBatch({ generation: 'g1', processor: 'bench', effects: fill.splice(0), offsets: [] });
  }
  await store.applyBatch({ generation: 'g1', processor: 'bench', effects: fill, offsets: [] });
  ts += feedLength;

  const started = performance.now();
  const cpu = process.cpuUsage();
  for (let b = 0; b < batches; b++) {
    const effects: Effect[] = [];
    for (let i = 0; i < perBatch; i++) {
      ts += 1;
      const author = Math.floor(random() * 97);
      if (i % 5 === 4) { effects.push({ kind: 'hincr', key: `post:${Math.floor(random() * 1000)}`, field: 'likes', by: 1 }); continue; }
      // Up to ~50 ms out of order, as partitions interleave.
      effects.push({ kind: 'zadd', key: `feed:u${Math.floor(random() * feeds)}`, member: `p${post++}|u${author}`, score: ts - Math.floor(random() * 50), cap: feedLength });
    }
    await store.applyBatch({ generation: 'g1', processor: 'bench', effects, offsets: [{ topic: 'posts', partition: 0, offset: b + 1 }] });
  }
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const total = batches * perBatch;
  console.log(`embedded view store: ${total.toLocaleString('en')} effects into ${feeds} feeds of ${feedLength} in ${ms.toFixed(0)} ms`
    + ` → ${Math.round((total / ms) * 1000).toLocaleString('en')} effects/s (CPU ${((used.user + used.system) / 1e6).toFixed(2)} s)`);
  const top = await store.zrangeByScoreDesc('g1', 'feed:u0', { limit: 3 });
  if (top.length !== 3) throw new Error('feed lost its entries');
} finally {
  await store.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
