import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
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

  it('reads views an earlier version stored as msgpack, and stores sorted sets and hashes in their own layouts', async () => {
    const dataDir = fs.mkdtempSync(path.join(root, 'layout-'));
    // As versions before view-codec.ts wrote them: lmdb's default msgpack encoding for every value.
    const before = open({ path: path.join(dataDir, 'views'), compression: false, pageSize: 65_536 });
    const oldViews = before.openDB({ name: 'views' });
    const scores = new Float64Array([1, 2]);
    await oldViews.put(['g1', 'feed:old'], { t: 'z', j: 'p1\0p2', d: new Uint8Array(scores.buffer) });
    await oldViews.put(['g1', 'feed:plain'], { t: 'z', m: ['a\0b', 'c'], s: [3, 4] });
    await oldViews.put(['g1', 'post:p1'], { t: 'h', f: { likes: '5' } });
    await before.close();

    const store = await createEmbeddedViewStore({ dataDir });
    expect(await store.zrangeByScoreDesc('g1', 'feed:old', { limit: 5 })).toEqual([{ member: 'p2', score: 2 }, { member: 'p1', score: 1 }]);
    expect(await store.zrangeByScoreDesc('g1', 'feed:plain', { limit: 5 })).toEqual([{ member: 'c', score: 4 }, { member: 'a\0b', score: 3 }]);
    expect(await store.hgetallMany('g1', ['post:p1'])).toEqual([{ likes: '5' }]);
    await store.applyBatch({
      generation: 'g1', processor: 'p', offsets: [],
      effects: [
        { kind: 'zadd', key: 'feed:old', member: 'p3', score: 3 }, { kind: 'hincr', key: 'post:p1', field: 'likes', by: 1 },
        { kind: 'hset', key: 'profile:u1', fields: { bio: 'a\0b', name: 'Ünï' } },
      ],
    });
    expect(await store.hgetallMany('g1', ['profile:u1'])).toEqual([{ bio: 'a\0b', name: 'Ünï' }]);
    expect(await store.zrangeByScoreDesc('g1', 'feed:old', { limit: 5 })).toEqual([
      { member: 'p3', score: 3 }, { member: 'p2', score: 2 }, { member: 'p1', score: 1 },
    ]);
    expect(await store.hgetallMany('g1', ['post:p1'])).toEqual([{ likes: '6' }]);
    await store.close();

    const after = open({ path: path.join(dataDir, 'views') });
    const raw = after.openDB({ name: 'views', encoding: 'binary' });
    const layout = (key: string) => [...(raw.getBinary(['g1', key]) ?? Buffer.alloc(0)).subarray(0, 2)];
    expect(layout('feed:old')).toEqual([0xc1, 1]);
    expect(layout('post:p1')).toEqual([0xc1, 2]);
    expect(layout('profile:u1')[0]).not.toBe(0xc1); // a NUL in a value: msgpack, as before
    expect(layout('feed:plain')[0]).not.toBe(0xc1); // untouched since the earlier version
    await after.close();
  });

  describe('held batches (a rebuild\'s full batches)', () => {
    const budget = { maxBytes: 1 << 30 };
    const at = (offset: number) => [{ topic: 'posts', partition: 0, offset }];
    const feed = async (store: Awaited<ReturnType<typeof createEmbeddedViewStore>>, generation: string) =>
      (await store.zrangeByScoreDesc(generation, 'feed:u1', { limit: 10 })).map((e) => e.member);

    it('stay unread until a batch that is not held writes them, with their offsets', async () => {
      const store = await createEmbeddedViewStore({ dataDir: fs.mkdtempSync(path.join(root, 'hold-')) });
      expect(await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(1), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'a', score: 1 }], hold: budget })).toBe('held');
      expect(await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(2), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'b', score: 2 }, { kind: 'hincr', key: 'post:a', field: 'likes', by: 1 }], hold: budget })).toBe('held');
      expect(await feed(store, 'g2')).toEqual([]);
      expect(await store.offsets('g2', 'p')).toEqual([]);
      expect(await store.generations()).not.toContain('g2');

      await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(3), effects: [{ kind: 'hincr', key: 'post:a', field: 'likes', by: 1 }] });
      expect(await feed(store, 'g2')).toEqual(['b', 'a']);
      expect(await store.hgetallMany('g2', ['post:a'])).toEqual([{ likes: '2' }]);
      expect(await store.offsets('g2', 'p')).toEqual(at(3));
      await store.close();
    });

    it('are written once past their budget, never held in the generation serving reads, and written on close', async () => {
      const dataDir = fs.mkdtempSync(path.join(root, 'hold-'));
      const store = await createEmbeddedViewStore({ dataDir });
      await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(1), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'a', score: 1 }], hold: { maxBytes: 10 } });
      expect(await feed(store, 'g2')).toEqual(['a']);
      expect(await store.applyBatch({ generation: 'g1', processor: 'p', offsets: at(1), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'live', score: 1 }], hold: budget })).toBeUndefined();
      expect(await feed(store, 'g1')).toEqual(['live']); // g1 serves reads (the initial generation)
      await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(2), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'b', score: 2 }], hold: budget });
      expect(await feed(store, 'g2')).toEqual(['a']);
      await store.close();
      const reopened = await createEmbeddedViewStore({ dataDir });
      expect(await feed(reopened, 'g2')).toEqual(['b', 'a']);
      expect(await reopened.offsets('g2', 'p')).toEqual(at(2));
      await reopened.close();
    });

    it('are held per processor: another processor\'s batches leave them held, unless they change a key held', async () => {
      const store = await createEmbeddedViewStore({ dataDir: fs.mkdtempSync(path.join(root, 'hold-')) });
      await store.applyBatch({ generation: 'g2', processor: 'fanout', offsets: at(1), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'a', score: 1 }, { kind: 'hset', key: 'post:a', fields: { by: 'u9' } }], hold: budget });
      await store.applyBatch({ generation: 'g2', processor: 'counters', offsets: at(7), effects: [{ kind: 'hincr', key: 'stats:a', field: 'likes', by: 1 }] });
      expect(await store.hgetallMany('g2', ['stats:a', 'post:a'])).toEqual([{ likes: '1' }, null]);
      expect(await store.offsets('g2', 'fanout')).toEqual([]);
      // A key the other processor holds: its batches are written first, then this one on top.
      await store.applyBatch({ generation: 'g2', processor: 'counters', offsets: at(8), effects: [{ kind: 'hset', key: 'post:a', fields: { likes: 1 } }] });
      expect(await store.hgetallMany('g2', ['post:a'])).toEqual([{ by: 'u9', likes: '1' }]);
      expect(await feed(store, 'g2')).toEqual(['a']);
      expect(await store.offsets('g2', 'fanout')).toEqual(at(1));
      expect(await store.offsets('g2', 'counters')).toEqual(at(8));
      await store.close();
    });

    it('lost with a batch that cannot apply: the generation refuses batches and keeps what was written, until reopened', async () => {
      const dataDir = fs.mkdtempSync(path.join(root, 'hold-'));
      const store = await createEmbeddedViewStore({ dataDir });
      await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(1), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'a', score: 1 }] });
      await store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(2), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'b', score: 2 }], hold: budget });
      const wrongType = { generation: 'g2', processor: 'p', offsets: at(3), effects: [{ kind: 'hincr' as const, key: 'feed:u1', field: 'n', by: 1 }], hold: budget };
      await expect(store.applyBatch(wrongType)).rejects.toThrow(/WRONGTYPE.*held batches of generation g2 were lost/);
      await expect(store.applyBatch({ generation: 'g2', processor: 'p', offsets: at(3), effects: [] })).rejects.toThrow(/were lost/);
      expect(await feed(store, 'g2')).toEqual(['a']);
      expect(await store.offsets('g2', 'p')).toEqual(at(1));
      await store.close();
      const reopened = await createEmbeddedViewStore({ dataDir });
      await reopened.applyBatch({ generation: 'g2', processor: 'p', offsets: at(2), effects: [{ kind: 'zadd', key: 'feed:u1', member: 'b', score: 2 }] });
      expect(await feed(reopened, 'g2')).toEqual(['b', 'a']);
      await reopened.close();
    });
  });
});
