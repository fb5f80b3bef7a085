// How big and how fast is feed-fanout's state?
//
//   node --expose-gc --import tsx bench/feed-state-memory.ts [edges] [users]
//
// 1. Builds `edges` (default 10M) distinct follow edges over `users` (default 1M) through `apply`:
//    followers uniform, followees by a Zipf law (exponent 1), so a few accounts have hundreds of
//    thousands of followers and most have a handful. Reports bytes of heap + array buffers per edge
//    (target <= 100) and follow events applied per second. All in one state: in production the same
//    graph is spread over 8 partitions.
// 2. post_created by an author with 1,000 followers, against the bare cost of building its effects (a
//    fanout is one effect holding 1,001 feed keys).
// 3. A realistic mix of graph, profile and post events on that state: events/s and effects/s.
import { TOPICS, type DarkroomEvent } from '../schemas/events.ts';
import { createFeedFanout } from '../processors/feed-fanout/index.ts';
import { effectWeight, type Effect } from '../processors/effects.ts';
import { PowerLaw, randomStreams } from '../simulator/random.ts';

const EDGES = Number(process.argv[2] ?? 10_000_000);
const USERS = Number(process.argv[3] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/feed-state-memory.ts');

const source = { topic: TOPICS.socialGraph, partition: 0, offset: 0 };
const [graphRandom, mixRandom] = randomStreams(42, 2);
const userIds = Array.from({ length: USERS }, (_, i) => `u${i + 1}`);
const popularity = new PowerLaw(USERS, 1);

function usedBytes(): { heap: number; buffers: number } {
  gc!();
  gc!();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, buffers: usage.arrayBuffers };
}

/** Wall and CPU time: the machine is shared, so CPU time tells what one idle core would do. */
function clock(): () => { wallMs: number; cpuMs: number } {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { wallMs: performance.now() - wall, cpuMs: (used.user + used.system) / 1000 };
  };
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000).toLocaleString('en-US');
const rate = (count: number, t: { wallMs: number; cpuMs: number }) =>
  `${perSecond(count, t.cpuMs)}/s per CPU second (${perSecond(count, t.wallMs)}/s wall)`;

// ---- 1. memory of 10M edges --------------------------------------------------------------------
const fanout = createFeedFanout({ celebrityFollowers: 100_000, feedLength: 800, followBackfill: 200 });
const before = usedBytes();
const state = fanout.init(0);
let ts = 1_700_000_000_000;
let follows = 0;
let effects = 0;
const buildClock = clock();
while (state.followers.edges < EDGES) {
  const follower = graphRandom.below(USERS);
  const followee = popularity.sample(graphRandom);
  if (follower === followee) continue;
  const event: DarkroomEvent = {
    type: 'follow', event_id: '', ts: ts++, follower_id: userIds[follower], followee_id: userIds[followee],
  };
  for (const e of fanout.apply(state, event, source)) effects += effectWeight(e);
  follows++;
}
const buildTime = buildClock();
const after = usedBytes();
const heap = after.heap - before.heap;
const buffers = after.buffers - before.buffers;
const edges = state.followers.edges;
let biggest = 0;
for (let i = 0; i < 10; i++) biggest = Math.max(biggest, state.followers.followerCount(state.users.lookup(userIds[i]) ?? 0));
console.log(`1. state of ${edges.toLocaleString('en-US')} follow edges over ${state.users.size.toLocaleString('en-US')} users`);
console.log(`   heap ${mb(heap)} + array buffers ${mb(buffers)} = ${((heap + buffers) / edges).toFixed(1)} bytes per edge (target <= 100)`);
console.log(`   ${follows.toLocaleString('en-US')} follow events (${(follows - edges).toLocaleString('en-US')} repeats) in ${(buildTime.wallMs / 1000).toFixed(1)} s: ${rate(follows, buildTime)}, ${effects.toLocaleString('en-US')} effects`);
console.log(`   celebrities (>= 100,000 followers): ${state.celebrities.size}; most followed: ${biggest.toLocaleString('en-US')}`);

// ---- 2. post_created for an author with 1,000 followers -----------------------------------------
{
  const small = fanout.init(0);
  for (let i = 0; i < 1000; i++) {
    fanout.apply(small, { type: 'follow', event_id: '', ts: i, follower_id: `f${i}`, followee_id: 'author' }, source);
  }
  const posts = 5_000;
  const postIds = Array.from({ length: posts }, (_, i) => `post-${i}`);
  let sink = 0;
  const applyClock = clock();
  for (let i = 0; i < posts; i++) {
    const out = fanout.apply(small, {
      type: 'post_created', event_id: '', ts: 10_000 + i, post_id: postIds[i], author_id: 'author',
      caption: 'a caption', media_type: 'photo', hashtags: ['sun', 'sea'],
    }, source);
    sink += out.length;
  }
  const applyTime = applyClock();
  // The floor: the same effects (the fanout's 1,001 keys built from the user ids) in a bare loop, nothing else.
  const followerIds = Array.from({ length: 1000 }, (_, i) => `f${i}`);
  const bareClock = clock();
  for (let i = 0; i < posts; i++) {
    const out: Effect[] = [{ kind: 'hset', key: `post:${postIds[i]}`, fields: { post_id: postIds[i] } }];
    const member = `${postIds[i]}|author`;
    out.push({ kind: 'zadd', key: 'timeline:author', member: postIds[i], score: i });
    const keys = ['feed:author'];
    for (let f = 0; f < 1000; f++) keys.push(`feed:${followerIds[f]}`);
    out.push({ kind: 'zaddEach', keys, member, score: i, cap: 800 });
    sink += out.length;
  }
  const bareTime = bareClock();
  const micros = (t: { cpuMs: number }) => ((t.cpuMs / posts) * 1000).toFixed(0);
  console.log(`2. post_created, author with 1,000 followers: ${micros(applyTime)} µs CPU per post, ` +
    `${rate(posts, applyTime)}; building the same effects in a bare loop: ${micros(bareTime)} µs`);
}

// ---- 3. a realistic mix on the 10M-edge state ---------------------------------------------------
{
  const mix: Array<[number, string]> = [
    [0.30, 'post_created'], [0.45, 'follow'], [0.10, 'unfollow'], [0.03, 'post_deleted'],
    [0.08, 'profile_updated'], [0.03, 'block'], [0.01, 'unblock'],
  ];
  const count = 1_000_000;
  const recentPosts: Array<[string, string]> = []; // ring of the last 10,000 posts, for deletions
  let produced = 0;
  let postNumber = 0;
  const user = () => userIds[mixRandom.below(USERS)];
  const mixClock = clock();
  for (let i = 0; i < count; i++) {
    let pick = mixRandom.float();
    let kind = mix[mix.length - 1][1];
    for (const [share, name] of mix) { if (pick < share) { kind = name; break; } pick -= share; }
    const base = { event_id: '', ts: ts++ };
    let event: DarkroomEvent;
    switch (kind) {
      case 'post_created': {
        const author = user();
        const postId = `p${++postNumber}`;
        recentPosts[postNumber % 10_000] = [author, postId];
        event = { ...base, type: 'post_created', post_id: postId, author_id: author, caption: 'c', media_type: 'photo', hashtags: ['sun'] };
        break;
      }
      case 'post_deleted': {
        const [author, postId] = recentPosts[mixRandom.below(recentPosts.length)] ?? ['u1', 'none'];
        event = { ...base, type: 'post_deleted', post_id: postId, author_id: author };
        break;
      }
      case 'follow':
        event = { ...base, type: 'follow', follower_id: user(), followee_id: userIds[popularity.sample(mixRandom)] };
        break;
      case 'unfollow':
        event = { ...base, type: 'unfollow', follower_id: user(), followee_id: userIds[popularity.sample(mixRandom)] };
        break;
      case 'profile_updated':
        event = { ...base, type: 'profile_updated', user_id: user(), username: null, is_private: mixRandom.float() < 0.1 };
        break;
      case 'block':
        event = { ...base, type: 'block', blocker_id: user(), blocked_id: user() };
        break;
      default:
        event = { ...base, type: 'unblock', blocker_id: user(), blocked_id: user() };
    }
    for (const e of fanout.apply(state, event, source)) produced += effectWeight(e);
  }
  const mixTime = mixClock();
  console.log(`3. mix (30% posts by uniform authors, 45% follows, 10% unfollows, 8% profiles, 3% deletes, 4% blocks): ` +
    `${rate(count, mixTime)} events, ${(produced / count).toFixed(1)} effects per event`);
}
