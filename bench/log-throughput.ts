// Throughput of the embedded log: append rate for 200-byte records produced in batches of 1,000
// (each produce resolves only once its batch is fsynced), and read rate through a consumer.
// Medians over several rounds. Run: npx tsx bench/log-throughput.ts [rounds]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEmbeddedBackend } from '../topics/embedded/index.ts';
import type { ProduceRecord, TopicBackend } from '../topics/types.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const RECORD_BYTES = 200;
const BATCH = 1_000;
const BATCHES_PER_ROUND = 200;
const PARTITIONS = 8;
const TOPIC = 'bench';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function batchOf(round: number, index: number): ProduceRecord[] {
  const value = Buffer.alloc(RECORD_BYTES, round + index);
  return Array.from({ length: BATCH }, (_, i) => ({ key: `user-${(index * BATCH + i) % 10_007}`, value }));
}

/** Records per second appending BATCHES_PER_ROUND batches with `inFlight` produce calls outstanding. */
async function appendRate(backend: TopicBackend, round: number, inFlight: number): Promise<number> {
  const batches = Array.from({ length: BATCHES_PER_ROUND }, (_, i) => batchOf(round, i));
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < batches.length) await backend.produce(TOPIC, batches[next++]);
  }));
  return (BATCHES_PER_ROUND * BATCH) / ((performance.now() - started) / 1000);
}

/** Records per second for a fresh group reading the whole topic. */
async function readRate(backend: TopicBackend, group: string, total: number): Promise<number> {
  let seen = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => { finish = resolve; });
  const consumer = backend.consumer({ groupId: group, topics: [TOPIC], maxBatchRecords: 1_000 });
  const started = performance.now();
  await consumer.run({
    async eachBatch(batch) {
      seen += batch.records.length;
      if (seen >= total) finish();
    },
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  await consumer.stop();
  return total / seconds;
}

/**
 * What the disk charges for durability: median ms to write one produce call's bytes and fdatasync.
 * Appends with one produce in flight cannot beat BATCH / (this latency x ~2 syncs per LMDB commit).
 */
function fsyncLatencyMs(dir: string): number {
  const file = path.join(dir, 'fsync-probe');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(BATCH * RECORD_BYTES, 1);
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    const started = performance.now();
    fs.writeSync(fd, chunk);
    fs.fdatasyncSync(fd);
    samples.push(performance.now() - started);
  }
  fs.closeSync(fd);
  fs.rmSync(file);
  return median(samples);
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-log-'));
try {
  const backend = createEmbeddedBackend({ dataDir, retentionCheckMs: 0 });
  await backend.ensureTopics([{ name: TOPIC, partitions: PARTITIONS, key: 'user', retentionMs: -1, retentionBytes: -1, compacted: false }]);
  const sequential: number[] = [];
  const pipelined: number[] = [];
  const reads: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    sequential.push(await appendRate(backend, round, 1));
    pipelined.push(await appendRate(backend, round, 4));
    const total = (await backend.endOffsets(TOPIC)).reduce((sum, { offset }) => sum + offset, 0);
    reads.push(await readRate(backend, `reader-${round}`, total));
  }
  await backend.close();
  const fsyncLatency = fsyncLatencyMs(dataDir);
  const dbBytes = fs.readdirSync(path.join(dataDir, 'log')).reduce((sum, f) => sum + fs.statSync(path.join(dataDir, 'log', f)).size, 0);

  const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
  console.log(`embedded log, ${RECORD_BYTES}-byte records, batches of ${BATCH}, ${PARTITIONS} partitions, ${ROUNDS} rounds (median, min, max records/s)`);
  console.log(`${'measure'.padEnd(34)}${'median'.padStart(12)}${'min'.padStart(12)}${'max'.padStart(12)}  target`);
  const row = (label: string, xs: number[], target: string) =>
    console.log(`${label.padEnd(34)}${fmt(median(xs))}${fmt(Math.min(...xs))}${fmt(Math.max(...xs))}  ${target}`);
  row('append, 1 produce in flight', sequential, '>= 500,000');
  row('append, 4 produces in flight', pipelined, '>= 500,000');
  row('read through a consumer', reads, '>= 1,000,000');
  console.log(`disk: write ${(BATCH * RECORD_BYTES / 1000).toFixed(0)} kB + fdatasync, median ${fsyncLatency.toFixed(2)} ms; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
  console.log(`log size on disk: ${(dbBytes / 1e6).toFixed(0)} MB for ${(ROUNDS * 2 * BATCHES_PER_ROUND * BATCH).toLocaleString('en-US')} records`);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
