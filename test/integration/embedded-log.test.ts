// The shared topic-backend contract on the embedded log, plus what only the embedded log promises:
// same-process wake-ups, visibility across processes sharing a data dir, partition subsets.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import type { TopicRecord, TopicSpec } from '../../topics/types.ts';
import { runTopicBackendSuite } from './topic-backend-suite.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-embedded-log-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

runTopicBackendSuite('embedded log', async () => createEmbeddedBackend({ dataDir }), { waitMs: 5_000 });

const spec = (name: string, partitions: number): TopicSpec =>
  ({ name, partitions, key: 'k', retentionMs: -1, retentionBytes: -1, compacted: false });

describe('embedded log', () => {
  it('wakes a waiting consumer as soon as this process produces', async () => {
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'wake'), pollMs: 5_000 });
    await backend.ensureTopics([spec('wake', 1)]);
    let receivedAt = 0;
    const consumer = backend.consumer({ groupId: 'g', topics: ['wake'] });
    await consumer.run({ async eachBatch() { receivedAt = performance.now(); } });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the consumer is idle now
    const producedAt = performance.now();
    await backend.produce('wake', [{ key: 'k', value: Buffer.from('x') }]);
    while (!receivedAt) await new Promise((resolve) => setTimeout(resolve, 1));
    await backend.close();
    // A 5 s poll interval would show here; the doorbell answers within a few milliseconds.
    expect(receivedAt - producedAt).toBeLessThan(100);
  });

  it('shares topics and records with another process on the same data dir (by polling)', async () => {
    const dir = path.join(dataDir, 'shared');
    const writer = createEmbeddedBackend({ dataDir: dir });
    await writer.ensureTopics([spec('shared', 2)]);
    const other = await import('node:child_process');
    // The reader is a separate process: no doorbell reaches it, only its poll does.
    const script = `
      import { createEmbeddedBackend } from ${JSON.stringify(path.resolve('topics/embedded/index.ts'))};
      const backend = createEmbeddedBackend({ dataDir: ${JSON.stringify(dir)}, pollMs: 50 });
      const consumer = backend.consumer({ groupId: 'reader', topics: ['shared'] });
      let n = 0;
      await consumer.run({ async eachBatch(batch) { n += batch.records.length; if (n >= 5) { console.log('got', n); await backend.close(); process.exit(0); } } });
      console.log('ready');
    `;
    const child = other.spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    while (!out.includes('ready')) await new Promise((resolve) => setTimeout(resolve, 20));
    await writer.produce('shared', Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(i)) })));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    await writer.close();
    expect(code).toBe(0);
    expect(out).toContain('got 5');
  });

  it('gives a consumer only the partitions it is told to own', async () => {
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'subset') });
    await backend.ensureTopics([spec('subset', 4)]);
    await backend.produce('subset', [0, 1, 2, 3].map((partition) => ({ key: null, value: Buffer.from('x'), partition })));
    const got: TopicRecord[] = [];
    const assigned: number[] = [];
    const consumer = backend.consumer({ groupId: 'g', topics: ['subset'], partitions: [1, 3] });
    await consumer.run({
      async onAssigned(partitions) { assigned.push(...partitions.map((p) => p.partition)); },
      async eachBatch(batch) { got.push(...batch.records); },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await backend.close();
    expect(assigned).toEqual([1, 3]);
    expect(got.map((r) => r.partition).sort()).toEqual([1, 3]);
  });

  it('answers user mistakes with one clear line', async () => {
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'mistakes') });
    await backend.ensureTopics([spec('real', 2)]);
    await expect(backend.produce('typo', [{ key: 'k', value: Buffer.from('x') }])).rejects.toThrow(/unknown topic "typo" \(known: real\)/);
    await expect(backend.produce('real', [{ key: 'k', value: Buffer.from('x'), partition: 2 }])).rejects.toThrow(/partitions 0-1, got partition 2/);
    // Either way keys would move away from the state their partition holds.
    await expect(backend.ensureTopics([spec('real', 1)])).rejects.toThrow('topic "real" has 2 partitions, not 1');
    await expect(backend.ensureTopics([spec('real', 3)])).rejects.toThrow(/topic "real" has 2 partitions, not 3: .* run with DARKROOM_PARTITIONS=2$/);
    await expect(backend.ensureTopics([spec('bad', 0)])).rejects.toThrow(/partitions must be an integer >= 1/);
    expect(await backend.endOffsets('real')).toHaveLength(2);
    await backend.close();
  });

  it("keeps an existing topic's retention unless told to update it (a tool's environment must not change it)", async () => {
    const t0 = 1_700_000_000_000;
    const backend = createEmbeddedBackend({ dataDir: path.join(dataDir, 'retention-kept'), retentionCheckMs: 0, now: () => t0 + 60_000 });
    await backend.ensureTopics([spec('kept', 1)]);
    await backend.produce('kept', [{ key: 'k', value: Buffer.from('old'), timestamp: t0 }]);
    await backend.ensureTopics([{ ...spec('kept', 1), retentionMs: 2_000 }]);
    expect(await backend.applyRetention()).toBe(0);
    expect((await backend.startOffsets('kept'))[0].offset).toBe(0);
    await backend.ensureTopics([{ ...spec('kept', 1), retentionMs: 2_000 }], { updateRetention: true });
    expect(await backend.applyRetention()).toBe(1);
    expect((await backend.startOffsets('kept'))[0].offset).toBe(1);
    await backend.close();
    await expect(backend.endOffsets('real')).rejects.toThrow(/is closed/);
  });
});
