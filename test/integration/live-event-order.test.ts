// Live, a stateful task must fold its inputs in event-time order even when one of them is busy.
// An ingest request that holds a user's profile change and their next post writes both topics at
// once; the reader of posts, awake for a steady stream of other posts, sees the post before the
// reader of profiles has delivered the change. Trending must still decide the post with the change
// applied: a post sent right after its author went private never counts, one sent right after they
// went public does. Embedded log: there the runtime learns an input's end without a round trip
// (Consumer.endOffsetNow); Kafka delivers what one fetch returned, as Kafka Streams does.
import { randomUUID } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import type { PostCreated, ProfileUpdated } from '../../schemas/events.ts';
import { startTestPlatform } from '../helpers/platform.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const root = tempDataDir('darkroom-live-order-');
afterAll(() => root.remove());

const post = (ts: number, id: string, author: string, hashtags: string[]): PostCreated => ({
  type: 'post_created', event_id: randomUUID(), ts, post_id: id, author_id: author, caption: 'x', media_type: 'photo', hashtags,
});

it('counts toward trending exactly the posts whose author was public when they posted, under a busy posts stream', async () => {
  const platform = await startTestPlatform({ mode: 'embedded', dataDir: root.dir, topology: { partitions: 1 } });
  try {
    let ts = Date.now() - 600_000;
    let streaming = true;
    // Posts without tags by another account keep the posts reader busy.
    const stream = (async () => {
      for (let i = 0; streaming; i++) {
        await platform.producer.send(Array.from({ length: 200 }, (_, k) => post(ts++, `bg-${i}-${k}`, 'u-stream', [])));
      }
    })();
    const PAIRS = 800;
    const isPrivate = new Map<string, boolean>();
    let publicPosts = 0;
    for (let i = 0; i < PAIRS; i++) {
      const user = `u-${i % 10}`;
      const goesPrivate = !isPrivate.get(user);
      isPrivate.set(user, goesPrivate);
      if (!goesPrivate) publicPosts++;
      const change: ProfileUpdated = { type: 'profile_updated', event_id: randomUUID(), ts: ts++, user_id: user, username: user, is_private: goesPrivate };
      await platform.producer.send([change, post(ts++, `p-${i}`, user, [`tag${i % 7}`])]);
    }
    streaming = false;
    await stream;
    await platform.caughtUp(120_000);
    const [uses] = await platform.views.hgetallMany(platform.generation, ['trending:p0:uses_1h']);
    const counted = Object.values(uses ?? {}).reduce((sum, n) => sum + Number(n), 0);
    expect(counted).toBe(publicPosts);
  } finally {
    await platform.close();
  }
}, 120_000);

it('folds a switch to private before a post of the same millisecond: ingest gives both of one request the same ts', async () => {
  const platform = await startTestPlatform({ mode: 'embedded', dataDir: `${root.dir}/same-ts`, topology: { partitions: 1 } });
  try {
    const ts = Date.now() - 60_000;
    let publicPosts = 0;
    for (let i = 0; i < 40; i++) {
      const user = `s-${i}`;
      const goesPrivate = i % 2 === 0;
      if (!goesPrivate) publicPosts++;
      const change: ProfileUpdated = { type: 'profile_updated', event_id: randomUUID(), ts: ts + i, user_id: user, username: user, is_private: goesPrivate };
      await platform.producer.send([change, post(ts + i, `s-${i}`, user, ['sametag'])]);
    }
    await platform.caughtUp(60_000);
    const [uses] = await platform.views.hgetallMany(platform.generation, ['trending:p0:uses_1h']);
    expect(Object.values(uses ?? {}).reduce((sum, n) => sum + Number(n), 0)).toBe(publicPosts);
  } finally {
    await platform.close();
  }
}, 60_000);
