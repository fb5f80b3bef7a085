import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import type { Effect } from '../../processors/effects.ts';
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

  it('is created with 4 KB pages, and says so when a store on disk has the 64 KB pages of earlier versions', async () => {
    const fresh = fs.mkdtempSync(path.join(root, 'pages-'));
    const warnings: string[] = [];
    const store = await createEmbeddedViewStore({ dataDir: fresh, onWarning: (line) => warnings.push(line) });
    await store.applyBatch({ generation: 'g1', processor: 'p', offsets: [], effects: [{ kind: 'zadd', key: 'feed:u1', member: 'p1', score: 1 }] });
    await store.close();
    const env = open({ path: path.join(fresh, 'views'), compression: false });
    expect(env.getStats()).toMatchObject({ pageSize: 4096 });
    await env.close();
    expect(warnings).toEqual([]);

    // A store made with 64 KB pages (2026-12-04 to 12-06): it still works, with a warning that names the way out.
    const old = fs.mkdtempSync(path.join(root, 'pages-64k-'));
    const made = open({ path: path.join(old, 'views'), compression: false, pageSize: 65_536 });
    await made.put('x', 1);
    await made.close();
    const reopened = await createEmbeddedViewStore({ dataDir: old, onWarning: (line) => warnings.push(line) });
    await reopened.applyBatch({ generation: 'g1', processor: 'p', offsets: [], effects: [{ kind: 'zadd', key: 'feed:u1', member: 'p1', score: 1 }] });
    expect(await reopened.zrangeByScoreDesc('g1', 'feed:u1', { limit: 5 })).toEqual([{ member: 'p1', score: 1 }]);
    await reopened.close();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('64 KB pages');
    expect(warnings[0]).toContain(path.join(old, 'views'));
  });

  it('refuses a fanout whose key numbers contradict its keys, applying nothing, and numbers the next batch afresh', async () => {
    const store = await createEmbeddedViewStore({ dataDir: fs.mkdtempSync(path.join(root, 'numbers-')) });
    const numbering = { size: 2 };
    const batch = (effects: Effect[]) => store.applyBatch({ generation: 'g1', processor: 'p', offsets: [{ topic: 't', partition: 0, offset: 1 }], effects });
    const bad: Array<[Effect[], RegExp]> = [
      // number 0 names feed:a, then feed:b
      [[{ kind: 'zaddEach', keys: ['feed:a'], numbering, numbers: [0], member: 'p1', score: 1 },
        { kind: 'zaddEach', keys: ['feed:b'], numbering, numbers: [0], member: 'p2', score: 2 }], /number 0 names both "feed:a" and "feed:b"/],
      [[{ kind: 'zaddEach', keys: ['feed:a'], numbering, numbers: [5], member: 'p1', score: 1 }], /number 5 is outside its numbering/],
      [[{ kind: 'zaddEach', keys: ['feed:a'], numbering, numbers: [-1], member: 'p1', score: 1 }], /number -1 is outside its numbering/],
      [[{ kind: 'zaddEach', keys: ['offsets:x'], numbering, numbers: [1], member: 'p1', score: 1 }], /reserved prefix/],
    ];
    for (const [effects, reason] of bad) await expect(batch(effects)).rejects.toThrow(reason);
    expect(await store.zcard('g1', 'feed:a')).toBe(0);
    expect(await store.offsets('g1', 'p')).toEqual([]);
    // Numbers a refused batch used mean nothing to the next one.
    await batch([{ kind: 'zaddEach', keys: ['feed:b'], numbering, numbers: [0], member: 'p3', score: 3 }]);
    expect(await store.zrangeByScoreDesc('g1', 'feed:b', { limit: 5 })).toEqual([{ member: 'p3', score: 3 }]);
    expect(await store.zcard('g1', 'feed:a')).toBe(0);
    await store.close();
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
});
