// Read API latency on Redis with the views of a large simulated world:
//   feed page of 20 hydrated items, p50/p99 at a fixed 1,000 requests/s (open loop: latency counts
//   from the time a request was due, so a stall is not hidden); trending p99 at 1,000 requests/s;
//   peak feed requests/s (closed loop); Redis's own PING round trip measured in the same run.
//
//   npx tsx bench/serving-feed.ts [--users 1000000] [--events 2000000] [--redis redis://127.0.0.1:16379]
//                                 [--seconds 20] [--reload] [--load-only]
//
// Loading: the simulator's world (bootstrap: profiles and follows) and `--events` of traffic go
// through the real processors (feed-fanout, trending, engagement counters; 8 partitions, repartition
// topics followed in process) and their effects are applied to Redis with the real view store
// (applyBatch), without Kafka in between: the views are those the pipeline would build. They are
// kept under the Redis namespace "benchserve" and reused by the next run unless --reload;
// --load-only stops once they are loaded. Effect batches of 10,000 are applied with up to 4 in flight
// on one connection (Redis runs them in order), so the processors and Redis work at the same time.
// 1M users take ~3.2M keys and ~1.7 GB: use a Redis of your own (e.g. `redis-server --port 16391
// --save ''`), since a shared one slows everybody's SCAN/KEYS and their KEYS calls stall this bench.
// The server runs in a child process (as in production, apart from the load generator); both share
// the machine's cores with Redis. Beside latencies it reports, per request, the server's CPU time,
// Redis's CPU time and the commands Redis ran (INFO; those run inside a script count too).
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createFeedFanout } from '../processors/feed-fanout/index.ts';
import { createTrending } from '../processors/trending-hashtags/index.ts';
import { createEngagement } from '../processors/engagement-counters/index.ts';
import { effectWeight, type Effect } from '../processors/effects.ts';
import type { Processor } from '../processors/processor.ts';
import { routeOf, type DarkroomEvent } from '../schemas/events.ts';
import { createSimulation } from '../simulator/index.ts';
import { partitionFor } from '../topics/partitioner.ts';
import { createRedisViewStore } from '../sinks/redis/redis-view-store.ts';
import type { ViewStore } from '../sinks/view-store.ts';
import { createApp } from '../serving/app.ts';
import { createMetrics } from '../serving/metrics.ts';
import { readRouter } from '../serving/read/index.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    events: { type: 'string', default: '2000000' },
    redis: { type: 'string', default: 'redis://127.0.0.1:16379' },
    seconds: { type: 'string', default: '20' },
    reload: { type: 'boolean', default: false },
    'load-only': { type: 'boolean', default: false },
    serve: { type: 'boolean', default: false }, // internal: the child process
  },
});
const NAMESPACE = 'benchserve';
const PARTITIONS = 8;
const GENERATION = 'g1';
const HALF_LIFE_MINUTES = 60;
/** Effects per applyBatch while loading, and batches sent before the first is acknowledged. */
const LOAD_BATCH = 10_000;
const LOAD_IN_FLIGHT = 4;
const users = Number(args.users);
const seconds = Number(args.seconds);

// ---------------------------------------------------------------------------------------------
// Loading the views.

interface Routed { topic: string; partition: number; value: unknown }

async function load(views: ViewStore): Promise<void> {
  const fanout = createFeedFanout({ celebrityFollowers: 100_000, feedLength: 800 });
  const trending = createTrending({ halfLifeMinutes: HALF_LIFE_MINUTES });
  const engagement = createEngagement();
  const processors = [fanout, trending.extract, trending.score, engagement.deletions, engagement.counters] as Array<Processor<unknown, unknown>>;
  const consumers = new Map<string, Array<Processor<unknown, unknown>>>();
  for (const p of processors) for (const topic of p.inputs) consumers.set(topic, [...(consumers.get(topic) ?? []), p]);
  const states = new Map<string, unknown>();
  const offsets = new Map<string, number>();

  let pending: Effect[] = [];
  let applied = 0;
  // Batches go out in order on one connection, and Redis runs them in that order, so several can be
  // in flight: the processors compute the next batch while Redis applies the previous ones. The
  // views come out identical to applying them one by one.
  const inFlight = new Set<Promise<void>>();
  const submit = async (effects: Effect[]) => {
    while (inFlight.size >= LOAD_IN_FLIGHT) await Promise.race(inFlight);
    const sent: Promise<void> = views.applyBatch({ generation: GENERATION, processor: 'bench-loader', effects, offsets: [] })
      .then(() => { for (const e of effects) applied += effectWeight(e); inFlight.delete(sent); });
    inFlight.add(sent);
  };
  const flush = async (drain = false) => {
    const effects = pending;
    pending = [];
    // One event can yield 100k effects (an author becoming a celebrity); a batch is one script call,
    // of at most LOAD_BATCH key changes (a fanout counts its keys) unless one effect alone has more.
    let from = 0;
    let weight = 0;
    for (let i = 0; i < effects.length; i++) {
      weight += effectWeight(effects[i]);
      if (weight >= LOAD_BATCH || i === effects.length - 1) {
        await submit(effects.slice(from, i + 1));
        from = i + 1;
        weight = 0;
      }
    }
    if (drain) await Promise.all(inFlight);
  };
  // What the runtime does, in process: each record to every processor reading its topic, with the
  // state of its partition; repartition effects become records of the internal topic at once.
  const deliver = (first: Routed) => {
    const queue = [first];
    while (queue.length) {
      const record = queue.shift()!;
      const at = `${record.topic}:${record.partition}`;
      const offset = offsets.get(at) ?? 0;
      offsets.set(at, offset + 1);
      for (const p of consumers.get(record.topic) ?? []) {
        const stateKey = `${p.name}:${record.partition}`;
        let state = states.get(stateKey);
        if (state === undefined) states.set(stateKey, (state = p.init(record.partition)));
        for (const effect of p.apply(state, record.value, { topic: record.topic, partition: record.partition, offset })) {
          if (effect.kind === 'repartition') queue.push({ topic: effect.topic, partition: partitionFor(effect.key, PARTITIONS), value: effect.value });
          else if (effect.kind !== 'row') pending.push(effect);
        }
      }
    }
  };
  const send = async (events: Iterable<DarkroomEvent>) => {
    for (const event of events) {
      const { topic, key } = routeOf(event);
      deliver({ topic, partition: partitionFor(key, PARTITIONS), value: event });
      if (pending.length >= LOAD_BATCH) await flush(); // the view store sends a batch as one script call
    }
    await flush();
  };

  const started = performance.now();
  // Event time ends about now, so the trending scores and story expiries are current.
  const rate = 1_000;
  const events = Number(args.events);
  const sim = createSimulation({ users, seed: 42, startTs: Date.now() - (events / rate) * 1000, rate });
  let last = performance.now();
  const progress = (phase: string, done: number, total: number) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    console.log(`  ${phase}: ${done.toLocaleString('en')} / ${total.toLocaleString('en')} events, ${applied.toLocaleString('en')} effects applied, ${((last - started) / 1000).toFixed(0)} s`);
  };
  let done = 0;
  const chunk: DarkroomEvent[] = [];
  for (const event of sim.bootstrap()) {
    chunk.push(event);
    if (chunk.length === 50_000) { await send(chunk); done += chunk.length; chunk.length = 0; progress('bootstrap', done, sim.bootstrapSize); }
  }
  await send(chunk);
  console.log(`bootstrap: ${sim.bootstrapSize.toLocaleString('en')} events in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  for (let sent = 0; sent < events; sent += 10_000) {
    await send(sim.next(Math.min(10_000, events - sent)));
    progress('traffic', sent, events);
  }
  await flush(true);
  console.log(`loaded ${(sim.bootstrapSize + events).toLocaleString('en')} events -> ${applied.toLocaleString('en')} effects in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

// ---------------------------------------------------------------------------------------------
// Load generation.

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * The measuring client: HTTP/1.1 keep-alive GETs on plain sockets, one request at a time per
 * connection, up to 256 connections (then requests wait for one, their clock running). Node's
 * http client costs ~0.13 ms of CPU per request, a third of what the server spends on a feed page,
 * on the same 2 cores: this one costs a fraction of it, so the load generator disturbs less what it
 * measures. A request ends when its whole body (Content-Length) has arrived; anything but a 200
 * fails the run.
 */
class LoadClient {
  private readonly idle: Connection[] = [];
  private readonly waiting: Array<{ path: string; done: (error?: Error) => void }> = [];
  private open = 0;
  constructor(private readonly port: number, private readonly maxConnections = 256) {}

  get(path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => (error ? reject(error) : resolve());
      const connection = this.idle.pop();
      if (connection) connection.send(path, done);
      else if (this.open < this.maxConnections) { this.open++; new Connection(this.port, this).send(path, done); }
      else this.waiting.push({ path, done });
    });
  }

  release(connection: Connection): void {
    const next = this.waiting.shift();
    if (next) connection.send(next.path, next.done);
    else this.idle.push(connection);
  }

  /** A connection that closed or failed: no longer idle, and room for a new one. */
  forget(connection: Connection): void {
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.open--;
  }

  close(): void {
    for (const c of this.idle.splice(0)) c.socket.destroy();
  }
}

const HEADER_END = Buffer.from('\r\n\r\n');

class Connection {
  readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private path = '';
  private done: ((error?: Error) => void) | undefined;

  constructor(port: number, private readonly client: LoadClient) {
    this.socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', (error) => this.finish(error));
    this.socket.on('close', () => { this.client.forget(this); this.finish(new Error('connection closed by the server')); });
  }

  send(path: string, done: (error?: Error) => void): void {
    this.path = path;
    this.done = done;
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    const headerEnd = this.buffer.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffer.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) return this.finish(new Error(`${this.path}: response without Content-Length`));
    const end = headerEnd + 4 + Number(length[1]);
    if (this.buffer.length < end) return;
    if (this.buffer.length > end) return this.finish(new Error(`${this.path}: bytes past the response`));
    this.buffer = Buffer.alloc(0);
    const status = head.slice(9, 12);
    this.finish(status === '200' ? undefined : new Error(`${this.path}: HTTP ${status}`));
  }

  private finish(error?: Error): void {
    const done = this.done;
    this.done = undefined;
    if (!done) return;
    if (error) this.socket.destroy();
    else this.client.release(this);
    done(error);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/**
 * Resolves at `due` (performance.now() time), within ~0.1 ms. Node timers are ms-granular (a request
 * due in 0.4 ms would leave up to 1 ms late, and that lateness counts in an open loop), so the last
 * millisecond is waited in slices of 0.1 ms with Atomics.wait, going back to the event loop between
 * slices so that responses are read as they come (at most one slice late: this only over-reports).
 */
async function waitUntil(due: number): Promise<void> {
  for (;;) {
    const left = due - performance.now();
    if (left <= 0) return;
    if (left > 1.5) await new Promise((r) => setTimeout(r, left - 1.2));
    else {
      Atomics.wait(sleeper, 0, 0, Math.min(left, 0.1));
      await new Promise((r) => setImmediate(r));
    }
  }
}

/**
 * Open loop at `rate` requests/s for `durationS`: latency from each request's due time, so a stall
 * anywhere (server, Redis, or this process waking late) counts. Also how late requests left.
 */
async function openLoop(client: LoadClient, rate: number, durationS: number, path: (i: number) => string): Promise<{ latencies: number[]; late: number[] }> {
  const latencies: number[] = [];
  const late: number[] = [];
  const total = Math.round(rate * durationS);
  const start = performance.now();
  const inflight: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    // Never early: a request sent before its due time would report less than its real latency.
    await waitUntil(due);
    late.push(performance.now() - due);
    inflight.push(client.get(path(i)).then(() => { latencies.push(performance.now() - due); }));
  }
  await Promise.all(inflight);
  return { latencies, late };
}

/** Closed loop: `concurrency` clients back to back for `durationS`; requests/s. */
async function closedLoop(client: LoadClient, concurrency: number, durationS: number, path: (i: number) => string): Promise<number> {
  let count = 0;
  const end = performance.now() + durationS * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) await client.get(path(count++));
  }));
  return count / durationS;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (v: number) => `${v.toFixed(2)} ms`;
const summary = (values: number[]) => `p50 ${ms(quantile(values, 0.5))}  p99 ${ms(quantile(values, 0.99))}  max ${ms(Math.max(...values))}  (n=${values.length})`;

async function main(): Promise<void> {
  const redis = new Redis(args.redis!);
  const marker = `${NAMESPACE}:loaded`;
  const loaded = await redis.get(marker);
  if (args.reload || loaded !== `${users}:${args.events}`) {
    console.log(`loading ${users.toLocaleString('en')} users + ${Number(args.events).toLocaleString('en')} events of traffic into Redis (namespace ${NAMESPACE})...`);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${NAMESPACE}:*`, 'COUNT', 10_000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    const views = await createRedisViewStore({ url: args.redis!, namespace: NAMESPACE });
    await load(views);
    await views.close();
    await redis.set(marker, `${users}:${args.events}`);
  } else {
    console.log(`reusing the views of ${users.toLocaleString('en')} users + ${Number(args.events).toLocaleString('en')} events in Redis (--reload to rebuild)`);
  }
  const info = await redis.info('memory');
  console.log(`redis: ${await redis.dbsize()} keys, ${/used_memory_human:(\S+)/.exec(info)?.[1]} used`);
  if (args['load-only']) { await redis.quit(); return; }

  // Who reads: random users; how full their pages are is reported below.
  let seed = 12345;
  const nextRandom = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const readers = Array.from({ length: 20_000 }, () => `u${1 + Math.floor(nextRandom() * users)}`);
  const feedPath = (i: number) => `/v1/users/${readers[i % readers.length]}/feed?limit=20`;

  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ['--serve', '--redis', args.redis!], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  /** The server's handler times since the last call, and its CPU time per request over them. */
  const takeHandlerTimes = () => new Promise<{ handlerMs: number[]; cpuMs: number; postCache: { hits: number; misses: number; size: number } }>((resolve) => {
    child.once('message', (m: { handlerMs: number[]; cpuMs: number; postCache: { hits: number; misses: number; size: number } }) => resolve(m));
    child.send({ take: true });
  });
  /** Redis's CPU seconds and commands so far, to report its share of each request. */
  const redisCounters = async () => {
    const [cpu, stats, commandStats] = [await redis.info('cpu'), await redis.info('stats'), await redis.info('commandstats')];
    const field = (text: string, prefix: string) => Number(new RegExp(`${prefix}([\\d.]+)`).exec(text)?.[1] ?? 0);
    const own = process.cpuUsage();
    return {
      // The load generator's own CPU (this process): it shares the 2 cores with the server and Redis.
      generatorMs: (own.user + own.system) / 1000,
      cpuMs: (field(cpu, 'used_cpu_user:') + field(cpu, 'used_cpu_sys:')) * 1000,
      // Redis counts the commands a script runs as commands too; EVALSHA calls are counted apart.
      commands: field(stats, 'total_commands_processed:'),
      scripts: field(commandStats, 'cmdstat_evalsha:calls='),
    };
  };
  type Counters = Awaited<ReturnType<typeof redisCounters>>;
  const perRequest = (server: { handlerMs: number[]; cpuMs: number }, before: Counters, after: Counters) => {
    const n = server.handlerMs.length;
    const per = (v: number, digits: number) => (v / n).toFixed(digits);
    // The INFO calls of `after` are counted too: negligible beside thousands of requests.
    return `server CPU ${per(server.cpuMs, 3)} ms/req, Redis CPU ${per(after.cpuMs - before.cpuMs, 3)} ms/req, `
      + `Redis commands/req ${per(after.commands - before.commands, 1)} (of which EVALSHA ${per(after.scripts - before.scripts, 1)}), `
      + `load generator CPU ${per(after.generatorMs - before.generatorMs, 3)} ms/req`;
  };

  const client = new LoadClient(port);
  try {
    // Page fill and celebrity merges of a sample, straight from the API.
    let items = 0; let full = 0; let withCelebrities = 0;
    for (const user of readers.slice(0, 500)) {
      const body = await new Promise<{ items: unknown[] }>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/v1/users/${user}/feed?limit=20`, agent }, (res) => {
          let text = ''; res.on('data', (d) => (text += d)); res.on('end', () => resolve(JSON.parse(text)));
        }).on('error', reject);
      });
      items += body.items.length; if (body.items.length === 20) full++;
    }
    withCelebrities = (await Promise.all(readers.slice(0, 500).map((u) => redis.zcard(`${NAMESPACE}:${GENERATION}:celebrities-followed:${u}`)))).filter((n) => n > 0).length;
    console.log(`sample of 500 readers: ${(items / 500).toFixed(1)} items per page, ${full} full pages, ${withCelebrities} merge celebrity timelines`);

    // Warm-up (JIT, connections), not measured.
    await closedLoop(client, 16, 3, feedPath);
    await takeHandlerTimes();

    const pings: number[] = [];
    for (let i = 0; i < 5_000; i++) { const t = performance.now(); await redis.ping(); pings.push(performance.now() - t); }
    console.log(`redis PING round trip:        ${summary(pings)}`);

    let before = await redisCounters();
    const feed = await openLoop(client, 1_000, seconds, (i) => feedPath(i + 1_000));
    const feedServer = await takeHandlerTimes();
    console.log(`feed page (20) @1000 req/s:   ${summary(feed.latencies)}`);
    console.log(`  sent late by the generator: ${summary(feed.late)}`);
    console.log(`  server side (in handler):   ${summary(feedServer.handlerMs)}`);
    console.log(`  ${perRequest(feedServer, before, await redisCounters())}`);
    const { hits, misses, size } = feedServer.postCache;
    console.log(`  post content cache: ${(100 * hits / Math.max(1, hits + misses)).toFixed(1)}% hits since start, ${size.toLocaleString('en')} posts kept`);

    before = await redisCounters();
    const trending = await openLoop(client, 1_000, Math.min(seconds, 10), () => '/v1/hashtags/trending?limit=10');
    const trendingServer = await takeHandlerTimes();
    console.log(`trending @1000 req/s:         ${summary(trending.latencies)}`);
    console.log(`  sent late by the generator: ${summary(trending.late)}`);
    console.log(`  server side (in handler):   ${summary(trendingServer.handlerMs)}`);
    console.log(`  ${perRequest(trendingServer, before, await redisCounters())}`);

    before = await redisCounters();
    const peak = await closedLoop(client, 32, Math.min(seconds, 10), (i) => feedPath(i + 50_000));
    const peakServer = await takeHandlerTimes();
    console.log(`feed peak (32 clients):       ${Math.round(peak).toLocaleString('en')} req/s`);
    console.log(`  ${perRequest(peakServer, before, await redisCounters())}`);
  } finally {
    child.kill();
    agent.destroy();
    client.close();
    await redis.quit();
  }
}

// ---------------------------------------------------------------------------------------------
// Child process: the read API on the loaded views; reports its own handler times when asked.

async function serve(): Promise<void> {
  const views = await createRedisViewStore({ url: args.redis!, namespace: NAMESPACE });
  const handlerMs: number[] = [];
  const router = readRouter({ views, generation: () => views.currentGeneration(), trendingHalfLifeMinutes: HALF_LIFE_MINUTES, partitions: PARTITIONS });
  const app = createApp({
    metrics: createMetrics(), log: (l) => process.stderr.write(`${l}\n`), ready: () => true, routes: [router],
  });
  const timed = http.createServer((req, res) => {
    const started = performance.now();
    res.on('finish', () => handlerMs.push(performance.now() - started));
    app(req, res);
  });
  timed.keepAliveTimeout = 60_000;
  timed.listen(0, '127.0.0.1', () => process.send!({ port: (timed.address() as AddressInfo).port }));
  // A normal exit on kill, so `node --cpu-prof` can write the server's profile.
  process.on('SIGTERM', () => process.exit(0));
  let cpuSince = process.cpuUsage();
  process.on('message', (message: { take?: boolean }) => {
    if (!message.take) return;
    const cpu = process.cpuUsage(cpuSince);
    cpuSince = process.cpuUsage();
    process.send!({ handlerMs: handlerMs.splice(0), cpuMs: (cpu.user + cpu.system) / 1000, postCache: router.postCacheStats?.() ?? { hits: 0, misses: 0, size: 0 } });
  });
}

if (args.serve) await serve();
else await main();

