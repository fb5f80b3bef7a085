// End to end, as a user meets darkroom: `npm start` on a fresh data dir, actions over HTTP, wait for
// lag 0 on /v1/status, then read feeds, counters, trending and the story tray over HTTP.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, tempDataDir } from '../helpers/tmp.ts';

const PORT = 18_000 + Math.floor(Math.random() * 1000);
const base = `http://127.0.0.1:${PORT}`;
const data = tempDataDir('darkroom-e2e-');
let platform: ChildProcess;
let output = '';

const T0 = Date.now() - 30 * 60_000; // half an hour ago: recent enough for trending and stories
let seq = 0;
const at = (minutes: number) => T0 + minutes * 60_000 + seq++;

async function send(events: object[]): Promise<void> {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

async function get<T = any>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

async function caughtUp(): Promise<void> {
  await eventually(async () => (await get('/v1/status')).body.lag === 0, 60_000, 'lag 0 on /v1/status');
}

const feedIds = async (user: string) => (await get(`/v1/users/${user}/feed?limit=100`)).body.items.map((i: { post_id: string }) => i.post_id);
const post = (post_id: string, author_id: string, minutes: number, caption = `post ${post_id}`) =>
  ({ type: 'post_created', post_id, author_id, caption, media_type: 'photo', ts: at(minutes) });

beforeAll(async () => {
  platform = spawn('npm', ['start', '--silent'], {
    env: {
      ...process.env, PORT: String(PORT), DARKROOM_DATA_DIR: data.dir, DARKROOM_SIMULATE: '0',
      DARKROOM_CELEBRITY_FOLLOWERS: '3', DARKROOM_PARTITIONS: '4',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  platform.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  platform.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  await eventually(async () => (await fetch(`${base}/healthz`)).ok, 90_000, `npm start to serve (output: ${output})`);
}, 120_000);

afterAll(async () => {
  if (platform?.pid) {
    try { process.kill(-platform.pid, 'SIGTERM'); } catch { /* already gone */ }
    await new Promise((r) => platform.once('exit', r));
  }
  data.remove();
});

describe('npm start, end to end over HTTP', () => {
  it('builds feeds with fanout on write and on read, and applies delete, unfollow and block', async () => {
    // star has 3 followers (a celebrity at threshold 3); bob is an ordinary author.
    await send([
      { type: 'follow', follower_id: 'alice', followee_id: 'star', ts: at(0) },
      { type: 'follow', follower_id: 'carol', followee_id: 'star', ts: at(0) },
      { type: 'follow', follower_id: 'dave', followee_id: 'star', ts: at(0) },
      { type: 'follow', follower_id: 'alice', followee_id: 'bob', ts: at(0) },
      { type: 'follow', follower_id: 'alice', followee_id: 'eve', ts: at(0) },
      { type: 'follow', follower_id: 'alice', followee_id: 'mallory', ts: at(0) },
    ]);
    await caughtUp();
    await send([
      post('p-star', 'star', 1, 'big news #launch'),
      post('p-bob-1', 'bob', 2, 'hello #launch'),
      post('p-bob-2', 'bob', 3, 'to be deleted'),
      post('p-eve', 'eve', 4, 'eve here #launch'),
      post('p-mallory', 'mallory', 5),
      post('p-alice', 'alice', 6, 'my own post #launch'),
    ]);
    await caughtUp();
    expect(await feedIds('alice')).toEqual(['p-alice', 'p-mallory', 'p-eve', 'p-bob-2', 'p-bob-1', 'p-star']);
    // The celebrity's post came in at read time, not by fanout.
    expect(await feedIds('carol')).toEqual(['p-star']);

    await send([
      { type: 'post_deleted', post_id: 'p-bob-2', author_id: 'bob', ts: at(7) },
      { type: 'unfollow', follower_id: 'alice', followee_id: 'eve', ts: at(7) },
      { type: 'block', blocker_id: 'mallory', blocked_id: 'alice', ts: at(7) },
    ]);
    await caughtUp();
    expect(await feedIds('alice')).toEqual(['p-alice', 'p-bob-1', 'p-star']);

    const page1 = (await get(`/v1/users/alice/feed?limit=2`)).body;
    expect(page1.items.map((i: { post_id: string }) => i.post_id)).toEqual(['p-alice', 'p-bob-1']);
    expect(page1.items[0]).toMatchObject({ author_id: 'alice', caption: 'my own post #launch', hashtags: ['launch'], media_type: 'photo' });
    const page2 = (await get(`/v1/users/alice/feed?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`)).body;
    expect(page2.items.map((i: { post_id: string }) => i.post_id)).toEqual(['p-star']);
    expect(page2.next_cursor).toBeNull();
  });

  it('counts engagement idempotently and serves trending and the story tray', async () => {
    await send([
      { type: 'like', user_id: 'alice', post_id: 'p-bob-1', ts: at(10) },
      { type: 'like', user_id: 'alice', post_id: 'p-bob-1', ts: at(10) },
      { type: 'like', user_id: 'carol', post_id: 'p-bob-1', ts: at(10) },
      { type: 'unlike', user_id: 'carol', post_id: 'p-bob-1', ts: at(11) },
      { type: 'comment', comment_id: 'c1', user_id: 'carol', post_id: 'p-bob-1', text: 'nice', ts: at(11) },
      { type: 'share', user_id: 'dave', post_id: 'p-bob-1', ts: at(11) },
      { type: 'post_seen', viewer_id: 'dave', post_id: 'p-bob-1', ts: at(11) },
      { type: 'reel_watched', viewer_id: 'dave', post_id: 'p-bob-1', watched_ms: 10_000, duration_ms: 10_000, ts: at(12) },
      { type: 'story_created', story_id: 's-bob', author_id: 'bob', ts: at(12) },
      { type: 'story_created', story_id: 's-star', author_id: 'star', ts: at(13) },
      { type: 'story_viewed', story_id: 's-star', viewer_id: 'alice', ts: at(14) },
    ]);
    await caughtUp();

    const stats = await get(`/v1/posts/p-bob-1/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({ post_id: 'p-bob-1', likes: 1, comments: 1, shares: 1, views: 2, watch_ms: 10_000, completion_rate: 1 });
    expect((await get(`/v1/posts/p-bob-2/stats`)).status).toBe(404);
    expect((await get(`/v1/posts/no-such-post/stats`)).status).toBe(404);

    const trending = (await get(`/v1/hashtags/trending?limit=5`)).body;
    expect(trending.items[0]).toMatchObject({ hashtag: 'launch' });
    expect(trending.items[0].uses_1h).toBeGreaterThanOrEqual(3);

    const tray = (await get(`/v1/users/alice/stories`)).body;
    expect(tray.items.map((a: { author_id: string }) => a.author_id)).toEqual(['bob', 'star']);
    expect(tray.items[0]).toMatchObject({ has_unseen: true, stories: [{ story_id: 's-bob', seen: false }] });
    expect(tray.items[1]).toMatchObject({ has_unseen: false, stories: [{ story_id: 's-star', seen: true }] });
  });

  it('rejects bad input with a clear error and writes nothing', async () => {
    const res = await fetch(`${base}/v1/events`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ type: 'like', user_id: 'a', post_id: 'p' }, { type: 'like', user_id: 'a' }]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: unknown }).error).toMatchObject({ code: 'invalid_event', index: 1 });
    expect((await get('/v1/users/alice/feed?limit=0')).status).toBe(400);
  });

  it('tails an internal topic beside the running platform: the processor\'s value and its origin', async () => {
    const tail = async (topic: string) => {
      const { stdout } = await promisify(execFile)('node', ['cli/bin.mjs', 'tail', topic, '--from-beginning', '--limit', '1'], {
        env: { ...process.env, DARKROOM_DATA_DIR: data.dir, DARKROOM_PARTITIONS: '4' }, timeout: 60_000,
      });
      return JSON.parse(stdout.trim().split('\n')[0]) as { key: string; value: Record<string, unknown> };
    };
    // mallory blocked alice: the block is relayed to mallory's partition.
    const relayed = await tail('feed-fanout-repartition');
    expect(relayed.key).toBe('mallory');
    expect(relayed.value).toMatchObject({ type: 'block_relayed', blocker_id: 'mallory', blocked_id: 'alice', blocked: true, origin: { topic: 'social-graph' } });
    const use = await tail('trending-hashtags-repartition');
    expect(use.value).toMatchObject({ hashtag: 'launch', origin: { topic: 'posts' } });
    expect(use.value.undecodable).toBeUndefined();
  }, 90_000);
});
