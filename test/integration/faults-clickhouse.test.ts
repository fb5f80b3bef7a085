// Fault: ClickHouse unreachable for a minute while events keep flowing.
//
// A private ClickHouse endpoint (infra/clickhouse-http on a free port, its own data dir; never the
// shared one) serves the analytics sink of a whole pipeline (embedded log and views). It is killed
// (SIGKILL: connections refused, an INSERT may die half-way) or frozen (SIGSTOP: connections hang, an
// INSERT may be applied after the client gave up on it), events flow for the outage, then it comes
// back on the same port and data. What must hold:
//   - the analytics sink retries the same batch with backoff (the runtime's flush loop);
//   - consumption of analytics waits behind that batch, so memory stays bounded (RSS sampled);
//   - the other processors keep going: a post and a like sent mid-outage reach the feed and the stats;
//   - once back, every accepted event is one row: count = records on the topics = distinct
//     (topic, partition, offset).
// TEST_CLICKHOUSE_OUTAGE_S (default 60), TEST_CLICKHOUSE_FAULT (kill | freeze, default kill) and
// TEST_CLICKHOUSE_FAULT_RATE (events/s during the outage, default 500) tune it; CI runs the default.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startClickHouseHttp, type ClickHouseProcess } from '../../infra/clickhouse-http/spawn.ts';
import { startPipeline } from '../../processors/pipeline.ts';
import { viewSink } from '../../sinks/view-store.ts';
import { analyticsSink } from '../../sinks/analytics/analytics-store.ts';
import { pipelineStatus } from '../../serving/status.ts';
import { createSimulation } from '../../simulator/index.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';
import { feedKey } from '../../processors/feed-fanout/keys.ts';
import { statsKey } from '../../processors/engagement-counters/keys.ts';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.ts';
import { freePort } from '../helpers/free-port.ts';
import { eventually, sleep, tempDataDir } from '../helpers/tmp.ts';

const OUTAGE_MS = Number(process.env.TEST_CLICKHOUSE_OUTAGE_S ?? 60) * 1000;
const MODE = (process.env.TEST_CLICKHOUSE_FAULT ?? 'kill') as 'kill' | 'freeze';
const RATE = Number(process.env.TEST_CLICKHOUSE_FAULT_RATE ?? 500);
/** Small batches, so the outage holds many times the runtime's bound in flight and memory must not follow. */
const MAX_BATCH_EFFECTS = 2_000;

const root = tempDataDir('darkroom-fault-ch-');
let clickhouse: ClickHouseProcess | undefined;
let platform: TestPlatform | undefined;
afterAll(async () => {
  if (clickhouse && MODE === 'freeze') { try { process.kill(clickhouse.pid, 'SIGCONT'); } catch { /* gone */ } }
  await platform?.close().catch(() => {});
  await clickhouse?.stop();
  root.remove();
});

const mb = (bytes: number) => Math.round(bytes / 1048576);

describe(`ClickHouse unreachable for ${OUTAGE_MS / 1000} s (${MODE}) while events flow`, () => {
  it('retries with backoff, keeps memory bounded and the views current, and loses or doubles no row', async () => {
    expect(['kill', 'freeze']).toContain(MODE);
    const port = await freePort();
    const chDir = path.join(root.dir, 'clickhouse');
    clickhouse = await startClickHouseHttp({ dataDir: chDir, port });
    platform = await startTestPlatform({
      mode: 'embedded', dataDir: path.join(root.dir, 'platform'), clickhouseUrl: clickhouse.url,
      startProcessors: false, topology: { partitions: 4 },
    });
    const p = platform;
    const sinkErrors = new Map<string, number>();
    let lastSinkError = '';
    p.pipeline = await startPipeline({
      backend: p.backend, codec: p.codec, topology: p.topology, groupPrefix: 'darkroom', lingerMs: 10,
      maxBatchEffects: MAX_BATCH_EFFECTS,
      sinkFor: (name, kind) => (kind === 'views' ? viewSink(p.views, p.generation, name) : analyticsSink(p.analytics, name)),
      observer: {
        onSinkError: (processor, error) => {
          sinkErrors.set(processor, (sinkErrors.get(processor) ?? 0) + 1);
          lastSinkError = error.message;
        },
      },
    });
    const processors = () => p.pipeline!.processors;
    const status = () => pipelineStatus(p.backend, processors());
    const eventsOf = (name: string) => processors().find((x) => x.name === name)!.running.progress().eventsProcessed;

    // A world to act in, and a watcher who follows a star, so the star's posts land in a feed.
    const simulation = createSimulation({ users: 2_000, seed: 11, startTs: Date.now() - 3_600_000, rate: RATE });
    const now = () => Date.now();
    const event = (e: Record<string, unknown>) => ({ ...e, event_id: randomUUID(), ts: now() }) as DarkroomEvent;
    await p.producer.send([...simulation.bootstrap()]);
    await p.producer.send([event({ type: 'follow', follower_id: 'watcher', followee_id: 'star' })]);
    await p.caughtUp(120_000);

    // Traffic during the whole outage, paced at RATE.
    let sending = true;
    const sender = (async () => {
      while (sending) {
        const started = now();
        await p.producer.send(simulation.next(Math.max(1, Math.round(RATE / 10))));
        await sleep(Math.max(0, 100 - (now() - started)));
      }
    })();
    // RSS includes the memory-mapped lmdb files of the log and views, which grow with every event
    // written; the JS heap is where a backlog held in memory would show.
    const baseline = process.memoryUsage();
    let peakRss = baseline.rss;
    let peakHeap = baseline.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 250);

    // The outage.
    await sleep(1_000);
    const analyticsBefore = eventsOf('analytics');
    const fanoutBefore = eventsOf('feed-fanout');
    if (MODE === 'kill') await clickhouse.stop('SIGKILL');
    else process.kill(clickhouse.pid, 'SIGSTOP');
    const outageStarted = now();

    // Mid-outage, the other processors still serve: a post by the star reaches the watcher's feed,
    // a like reaches the post's stats, while analytics acknowledges nothing.
    await sleep(Math.min(OUTAGE_MS / 2, 20_000));
    const postId = `outage-${randomUUID().slice(0, 8)}`;
    const markerSentAt = now();
    await p.producer.send([event({ type: 'post_created', post_id: postId, author_id: 'star', caption: 'still here #outage', media_type: 'photo', hashtags: ['outage'] })]);
    await p.producer.send([event({ type: 'like', user_id: 'watcher', post_id: postId })]);
    const seenAfterMs = await eventually(async () => {
      const feed = await p.views.zrangeByScoreDesc(p.generation, feedKey('watcher'), { limit: 50 });
      const [stats] = await p.views.hgetallMany(p.generation, [statsKey(postId)]);
      return feed.some((m) => m.member.startsWith(postId)) && stats?.likes === '1' ? now() - markerSentAt : undefined;
    }, 15_000, 'the mid-outage post and like to reach the feed and the stats');
    expect(now() - outageStarted).toBeLessThan(OUTAGE_MS); // still inside the outage
    const midStatus = await status();
    expect(midStatus.processors.analytics.lag).toBeGreaterThan(0);
    expect(eventsOf('feed-fanout')).toBeGreaterThan(fanoutBefore);

    await sleep(Math.max(0, OUTAGE_MS - (now() - outageStarted)));
    // Nothing was acknowledged by ClickHouse during the outage (a frozen server may have finished the
    // one INSERT in flight when frozen; its acknowledgement never came).
    expect(eventsOf('analytics')).toBeLessThanOrEqual(analyticsBefore + MAX_BATCH_EFFECTS);
    const outageMs = now() - outageStarted;
    const lagAtEnd = (await status()).processors.analytics.lag;
    const retries = sinkErrors.get('analytics') ?? 0;
    sending = false;
    await sender;

    // Back, on the same port and data.
    if (MODE === 'kill') clickhouse = await startClickHouseHttp({ dataDir: chDir, port });
    else process.kill(clickhouse.pid, 'SIGCONT');
    const backAt = now();
    await p.caughtUp(180_000);
    const catchUpMs = now() - backAt;
    clearInterval(sampler);

    const accepted = (await Promise.all([...new Set(processors().find((x) => x.name === 'analytics')!.inputs)]
      .map(async (topic) => (await p.backend.endOffsets(topic)).reduce((sum, o) => sum + o.offset, 0))))
      .reduce((a, b) => a + b, 0);
    const [rows] = await p.analytics.query(
      "SELECT count() AS n, uniqExact(topic, partition, offset) AS distinct FROM events WHERE processor = 'analytics'");
    const figures = {
      mode: MODE, outage_s: Math.round(outageMs / 100) / 10, rate_per_s: RATE, retries, last_error: lastSinkError.slice(0, 120),
      other_sink_errors: [...sinkErrors].filter(([name]) => name !== 'analytics'),
      marker_sent_at_outage_s: Math.round((markerSentAt - outageStarted) / 100) / 10, marker_in_views_after_ms: seenAfterMs, analytics_lag_at_end_of_outage: lagAtEnd,
      rss_baseline_mb: mb(baseline.rss), rss_peak_mb: mb(peakRss), heap_baseline_mb: mb(baseline.heapUsed), heap_peak_mb: mb(peakHeap), catch_up_s: Math.round(catchUpMs / 100) / 10,
      accepted_events: accepted, rows: Number(rows.n), distinct_offsets: Number(rows.distinct),
    };
    console.log(`faults-clickhouse: ${JSON.stringify(figures)}`);

    // retried, with backoff (not one per record); a frozen server costs the client's 60 s timeout per try
    expect(retries).toBeGreaterThanOrEqual(MODE === 'kill' ? 3 : 1);
    expect(retries).toBeLessThan(OUTAGE_MS / 100);
    expect(figures.other_sink_errors).toEqual([]);            // nothing else failed
    expect(lagAtEnd).toBeGreaterThan(MAX_BATCH_EFFECTS);      // the backlog stayed on the log...
    expect(peakHeap - baseline.heapUsed).toBeLessThan(200 * 1048576); // ...not in memory
    expect(peakRss - baseline.rss).toBeLessThan(400 * 1048576);
    expect(Number(rows.n)).toBe(accepted);
    expect(Number(rows.distinct)).toBe(accepted);
  }, OUTAGE_MS + 420_000);
});
