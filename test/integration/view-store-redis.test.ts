import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { createRedisViewStore } from '../../sinks/redis/redis-view-store.ts';
import { SERVICES, describeWith } from '../services.ts';
import { runViewStoreSuite } from './view-store-suite.ts';

// Every store gets its own key namespace, so runs never see each other's keys (or real views).
const namespaces: string[] = [];
let lastNamespace = '';

describeWith(['redis'], 'Redis view store', () => {
  afterAll(async () => {
    const redis = new Redis(SERVICES.redis);
    for (const ns of namespaces) {
      const keys = await redis.keys(`${ns}:*`);
      if (keys.length) await redis.unlink(...keys);
    }
    await redis.quit();
  });

  runViewStoreSuite('redis', async () => {
    lastNamespace = `drtest-${randomUUID().slice(0, 8)}`;
    namespaces.push(lastNamespace);
    return createRedisViewStore({ url: SERVICES.redis, namespace: lastNamespace });
  }, {
    childStoreSource: () => `
      import { createRedisViewStore } from ${JSON.stringify(path.resolve('sinks/redis/redis-view-store.ts'))};
      const store = await createRedisViewStore({ url: ${JSON.stringify(SERVICES.redis)}, namespace: ${JSON.stringify(lastNamespace)} });`,
  });

  it('says which Redis it cannot reach, without credentials', async () => {
    const started = Date.now();
    await expect(createRedisViewStore({ url: 'redis://admin:s3cret@127.0.0.1:1/0', connectTimeoutMs: 500 }))
      .rejects.toThrow(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0/);
    await createRedisViewStore({ url: 'rediss://admin:s3cret@127.0.0.1:1', connectTimeoutMs: 500 }).catch((error: Error) => {
      expect(error.message).not.toMatch(/s3cret|admin/);
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a database Redis does not have instead of writing to database 0', async () => {
    await expect(createRedisViewStore({ url: `${SERVICES.redis.replace(/\/\d*$/, '')}/99` }))
      .rejects.toThrow(/^Redis at redis:\/\/.*\/99 has no database 99 \(ERR DB index is out of range\)/);
  });

  it('keeps the documented key layout', async () => {
    const ns = `drtest-${randomUUID().slice(0, 8)}`;
    namespaces.push(ns);
    const store = await createRedisViewStore({ url: SERVICES.redis, namespace: ns });
    await store.applyBatch({
      generation: 'g3', processor: 'fanout', offsets: [{ topic: 'posts', partition: 1, offset: 9 }],
      effects: [{ kind: 'zadd', key: 'feed:u1', member: 'p1', score: 1 }, { kind: 'sadd', key: 'tray:u1', member: 's1', expiresAt: Date.now() + 60_000 }],
    });
    const redis = new Redis(SERVICES.redis);
    expect((await redis.keys(`${ns}:*`)).sort()).toEqual([`${ns}:g3:feed:u1`, `${ns}:g3:offsets:fanout`, `${ns}:g3:tray:u1`, `${ns}:generations`]);
    expect(await redis.hgetall(`${ns}:g3:offsets:fanout`)).toEqual({ 'posts:1': '9' });
    expect(await redis.pttl(`${ns}:g3:tray:u1`)).toBeGreaterThan(50_000);
    expect(await redis.ttl(`${ns}:g3:feed:u1`)).toBe(-1);
    await redis.quit();
    await store.close();
  });
});
