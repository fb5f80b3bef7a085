import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedViewStore } from '../../sinks/embedded/embedded-view-store.ts';
import { runViewStoreSuite } from './view-store-suite.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-views-'));
let lastDir = '';
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('embedded view store (lmdb)', () => {
  runViewStoreSuite('embedded', async () => {
    lastDir = fs.mkdtempSync(path.join(root, 'store-'));
    return createEmbeddedViewStore({ dataDir: lastDir });
  }, {
    childStoreSource: () => `
      import { createEmbeddedViewStore } from ${JSON.stringify(path.resolve('sinks/embedded/embedded-view-store.ts'))};
      const store = await createEmbeddedViewStore({ dataDir: ${JSON.stringify(lastDir)} });`,
  });

  it('keeps views, offsets and the generation pointer across a reopen', async () => {
    const dataDir = fs.mkdtempSync(path.join(root, 'reopen-'));
    const first = await createEmbeddedViewStore({ dataDir });
    await first.applyBatch({
      generation: 'g1', processor: 'p', offsets: [{ topic: 'posts', partition: 2, offset: 41 }],
      effects: [{ kind: 'zadd', key: 'feed:u1', member: 'p1', score: 1 }, { kind: 'hincr', key: 'post:p1', field: 'likes', by: 2 }],
    });
    await first.setCurrentGeneration('g7');
    await first.close();
    expect(fs.existsSync(path.join(dataDir, 'views'))).toBe(true);

    const second = await createEmbeddedViewStore({ dataDir });
    expect(await second.offsets('g1', 'p')).toEqual([{ topic: 'posts', partition: 2, offset: 41 }]);
    expect(await second.zrangeByScoreDesc('g1', 'feed:u1', { limit: 5 })).toEqual([{ member: 'p1', score: 1 }]);
    expect(await second.hgetallMany('g1', ['post:p1'])).toEqual([{ likes: '2' }]);
    expect(await second.currentGeneration()).toBe('g7');
    await second.close();
  });
});
