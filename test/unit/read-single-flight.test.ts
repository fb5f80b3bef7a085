// The hot cache of the read API (serving/single-flight.ts): concurrent reads of a key share one
// backend read, answers are kept for ttlMs, failures are not kept.
import { describe, expect, it } from 'vitest';
import { HotCache } from '../../serving/single-flight.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('HotCache', () => {
  it('N concurrent gets of one key cause one load, even with no cache period', async () => {
    const cache = new HotCache<string>({ ttlMs: 0 });
    const gate = deferred<string>();
    let loads = 0;
    const reads = Array.from({ length: 50 }, () => cache.get('timeline:c', () => { loads++; return gate.promise; }));
    gate.resolve('posts');
    expect(await Promise.all(reads)).toEqual(Array(50).fill('posts'));
    expect(loads).toBe(1);
    // With no cache period the next read after the flight loads again.
    await cache.get('timeline:c', async () => { loads++; return 'newer'; });
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('with serveStaleMs, a get after ttlMs answers at once with the old value while one read refreshes it', async () => {
    let now = 0;
    const cache = new HotCache<number>({ ttlMs: 250, serveStaleMs: 250, clock: () => now });
    const gates: Array<ReturnType<typeof deferred<number>>> = [];
    const load = () => { const gate = deferred<number>(); gates.push(gate); return gate.promise; };
    const first = cache.get('top', load);
    gates[0].resolve(1);
    expect(await first).toBe(1);
    now = 300; // stale, inside the serve-stale window: old value, one refresh for all callers
    expect(await Promise.all([cache.get('top', load), cache.get('top', load)])).toEqual([1, 1]);
    expect(gates).toHaveLength(2);
    gates[1].resolve(2);
    await gates[1].promise;
    expect(await cache.get('top', load)).toBe(2);
    expect(gates).toHaveLength(2);
    // A failed refresh keeps the old value; the next stale get tries again.
    now = 600;
    expect(await cache.get('top', load)).toBe(2);
    gates[2].reject(new Error('store away'));
    await gates[2].promise.catch(() => {});
    expect(await cache.get('top', load)).toBe(2);
    expect(gates).toHaveLength(4);
    // Past ttlMs + serveStaleMs nothing old is served: the get waits for a load.
    now = 2_000;
    const waiting = cache.get('top', load);
    gates[gates.length - 1].resolve(3);
    expect(await waiting).toBe(3);
  });

  it('serves a loaded value for ttlMs, then loads again', async () => {
    let now = 0;
    const cache = new HotCache<number>({ ttlMs: 250, clock: () => now });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.get('k', load)).toBe(1);
    now = 249;
    expect(await cache.get('k', load)).toBe(1);
    now = 250;
    expect(await cache.get('k', load)).toBe(2);
    expect(cache.loads).toBe(2);
  });

  it('does not keep a failure: waiting callers see it, the next caller retries', async () => {
    const cache = new HotCache<string>({ ttlMs: 10_000 });
    const gate = deferred<string>();
    const a = cache.get('k', () => gate.promise);
    const b = cache.get('k', async () => 'never called');
    gate.reject(new Error('redis down'));
    await expect(a).rejects.toThrow('redis down');
    await expect(b).rejects.toThrow('redis down');
    expect(await cache.get('k', async () => 'back')).toBe('back');
  });

  it('getMany loads only the missing keys, in one call, and shares the rest', async () => {
    const cache = new HotCache<string>({ ttlMs: 1_000 });
    const calls: string[][] = [];
    const loadMany = async (keys: string[]) => { calls.push(keys); return keys.map((k) => `v:${k}`); };
    expect(await Promise.all(cache.getMany(['a', 'b'], loadMany))).toEqual(['v:a', 'v:b']);
    const gate = deferred<string[]>();
    const first = cache.getMany(['b', 'c', 'd', 'c'], (keys) => { calls.push(keys); return gate.promise; });
    const second = cache.getMany(['d', 'a'], loadMany); // d is in flight, a is cached
    gate.resolve(['v:c', 'v:d']);
    expect(await Promise.all(first)).toEqual(['v:b', 'v:c', 'v:d', 'v:c']);
    expect(await Promise.all(second)).toEqual(['v:d', 'v:a']);
    expect(calls).toEqual([['a', 'b'], ['c', 'd']]);
  });

  it('keeps at most maxEntries settled entries, dropping the oldest', async () => {
    const cache = new HotCache<number>({ ttlMs: 60_000, maxEntries: 3 });
    for (let i = 0; i < 10; i++) await cache.get(`k${i}`, async () => i);
    expect(cache.size).toBe(3);
    let reloaded = false;
    expect(await cache.get('k9', async () => { reloaded = true; return -1; })).toBe(9);
    expect(reloaded).toBe(false);
    expect(await cache.get('k0', async () => -1)).toBe(-1);
  });
});
