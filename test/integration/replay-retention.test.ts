// Retention and replay: a topic that lost its oldest records cannot silently give a partial rebuild.
// Replay checks where every input partition starts and refuses, naming the first hole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBackend } from '../../topics/embedded/index.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import { buildTopology } from '../../processors/topology.ts';
import { ReplayRefused, checkFullHistory, replaySet } from '../../processors/replay/index.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-replay-retention-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;

describe('replay and retention', () => {
  it('replays when every input starts at offset 0, refuses once retention dropped records', async () => {
    let now = T0;
    const backend = createEmbeddedBackend({ dataDir, retentionCheckMs: 0, now: () => now });
    const topology = buildTopology({ partitions: 2, celebrityFollowers: 100_000, feedLength: 800, trendingHalfLifeMinutes: 60 });
    await backend.ensureTopics([...topicCatalog(2, { ms: 10_000, bytes: -1 }), ...topology.internalTopics]);
    for (let i = 0; i < 4; i++) await backend.produce('posts', [{ key: `a${i}`, value: Buffer.from('x'), timestamp: T0 + i * 5_000 }]);
    const all = replaySet(topology, 'all');
    await expect(checkFullHistory(backend, topology, all)).resolves.toBeUndefined();

    now = T0 + 20_000; // the first records are older than 10 s
    expect(await backend.applyRetention()).toBeGreaterThan(0);
    await expect(checkFullHistory(backend, topology, all)).rejects.toThrow(ReplayRefused);
    await expect(checkFullHistory(backend, topology, all)).rejects.toThrow(/topic posts partition \d starts at offset [1-9]\d* \(older records were removed by retention\)/);
    // A processor that does not read the shortened topic can still be replayed.
    await expect(checkFullHistory(backend, topology, ['engagement-counters'])).resolves.toBeUndefined();
    await backend.close();
  });
});
