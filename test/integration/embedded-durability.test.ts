// Kill -9 at any moment loses nothing that was acknowledged. Two producer processes append to the same
// topic at once (offsets are assigned inside LMDB's write lock, so this also checks multi-process
// safety); the test SIGKILLs them at random moments, several rounds over the same log, then reads the
// whole log back.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { afterAll, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import { partitionFor } from '../../topics/partitioner.ts';
import type { TopicRecord } from '../../topics/types.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-durability-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const TOPIC = 'durability';
const ROUNDS = 4;
const fixture = path.resolve('test/fixtures/log-producer.ts');

interface Producer { id: string; child: ChildProcess; lastAcked: number; exited: Promise<void> }

function startProducer(id: string, seed: number): Producer {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir, TOPIC, id, String(seed)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const producer: Producer = { id, child, lastAcked: -1, exited: new Promise((resolve) => child.once('exit', () => resolve())) };
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      const [, who, last] = line.split(' ');
      if (who === id) producer.lastAcked = Number(last);
    }
  });
  return producer;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it('keeps every acknowledged record, in order and gap-free, across SIGKILLs of two concurrent producers', async () => {
  const seed = Date.now() % 1_000_000;
  const rng = xoroshiro128plus(seed);
  const acked = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    const producers = ['a', 'b'].map((name) => startProducer(`r${round}${name}`, seed + round * 2 + (name === 'a' ? 0 : 1)));
    // Kill only once both are appending, each at its own random moment.
    while (producers.some((p) => p.lastAcked < 0)) await sleep(10);
    await Promise.all(producers.map(async (p) => {
      await sleep(uniformInt(rng, 50, 600));
      p.child.kill('SIGKILL');
      await p.exited;
    }));
    for (const p of producers) acked.set(p.id, p.lastAcked);
  }

  const backend = createEmbeddedBackend({ dataDir, retentionCheckMs: 0 });
  const ends = await backend.endOffsets(TOPIC);
  const total = ends.reduce((sum, e) => sum + e.offset, 0);
  const records: TopicRecord[] = [];
  const consumer = backend.consumer({ groupId: 'verify', topics: [TOPIC], maxBatchRecords: 10_000 });
  await consumer.run({ async eachBatch(batch) { records.push(...batch.records); } });
  while (records.length < total) await sleep(10);
  await backend.close();

  console.log(`durability: ${total} records in the log, acked ${JSON.stringify(Object.fromEntries(acked))}`);
  const context = `seed ${seed}, acked ${JSON.stringify(Object.fromEntries(acked))}`;
  // Each partition is the contiguous range 0..end-1, every key in its murmur2 partition.
  for (const { partition, offset: end } of ends) {
    const inPartition = records.filter((r) => r.partition === partition);
    expect(inPartition.map((r) => r.offset), context).toEqual(Array.from({ length: end }, (_, i) => i));
    for (const r of inPartition) expect(partitionFor(r.key!, 4)).toBe(partition);
  }
  // Each producer's records: every acknowledged one present, each exactly once, in order per partition;
  // batches are atomic and sequential, so what survived is a prefix 0..m with m >= last acknowledged.
  const numbersOf = new Map<string, number[]>();
  for (const r of [...records].sort((x, y) => x.partition - y.partition || x.offset - y.offset)) {
    const [id, n] = r.value.toString().split(':');
    if (!numbersOf.has(id)) numbersOf.set(id, []);
    numbersOf.get(id)!.push(Number(n));
  }
  for (const [id, last] of acked) {
    const numbers = numbersOf.get(id) ?? [];
    const sorted = [...numbers].sort((x, y) => x - y);
    expect(sorted, `${id}: ${context}`).toEqual(Array.from({ length: sorted.length }, (_, i) => i));
    expect(sorted.length - 1, `${id} lost acknowledged records: ${context}`).toBeGreaterThanOrEqual(last);
    for (let p = 0; p < 4; p++) {
      const inPartition = records.filter((r) => r.partition === p && r.value.toString().startsWith(`${id}:`))
        .sort((x, y) => x.offset - y.offset).map((r) => Number(r.value.toString().split(':')[1]));
      expect(inPartition, `${id} order in partition ${p}`).toEqual([...inPartition].sort((x, y) => x - y));
    }
  }
  expect(acked.size).toBe(ROUNDS * 2);
  expect([...acked.values()].every((last) => last >= 0)).toBe(true);
});
