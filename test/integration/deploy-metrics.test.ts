// Every metric a Grafana dashboard or a Prometheus alert names exists in the /metrics of a running
// darkroom, and the ones that describe normal flow carry samples once traffic went through. The
// platform runs as it is deployed: `darkroom start` in a child process (embedded engines, a temp data
// dir, a free port), fed over HTTP by `darkroom simulate --url` as the compose simulator does; then
// `darkroom process` alone, as the `processors` service runs, must answer /healthz and /metrics too.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRules, dashboardQueries, metricNames } from '../../dashboards/queries.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';
import { freePort } from '../helpers/free-port.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'cli/bin.mjs');

interface Child { process: ChildProcess; output: () => string }

function darkroom(args: string[], env: Record<string, string>): Child {
  let output = '';
  // Only the settings of this test: no engine URL from the developer's shell may leak in.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|SCHEMA_REGISTRY_|REDIS_|CLICKHOUSE_|DARKROOM_|PORT$)/.test(k)));
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => { output += d; });
  child.stderr!.on('data', (d) => { output += d; });
  return { process: child, output: () => output };
}

async function stop(child: Child | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function exitOf(child: Child): Promise<number | null> {
  return child.process.exitCode !== null ? Promise.resolve(child.process.exitCode) : new Promise((resolve) => child.process.once('exit', resolve));
}

/** Metric families of a Prometheus text exposition: name → type, and the samples by series name. */
function parseExposition(text: string) {
  const types = new Map<string, string>();
  const samples = new Map<string, Array<{ labels: string; value: number }>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) { types.set(type[1], type[2]); continue; }
    const sample = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (sample) {
      const list = samples.get(sample[1]) ?? [];
      list.push({ labels: sample[2] ?? '', value: Number(sample[3]) });
      samples.set(sample[1], list);
    }
  }
  /** A series name a query may use: a family, or a histogram's _bucket/_sum/_count. */
  const exposes = (name: string) => {
    if (types.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && types.get(base) === 'histogram';
  };
  const total = (name: string, labelFilter = '') =>
    (samples.get(name) ?? []).filter((s) => s.labels.includes(labelFilter)).reduce((sum, s) => sum + s.value, 0);
  return { types, samples, exposes, total };
}

const referenced = new Map<string, string[]>();
for (const q of dashboardQueries().filter((q) => q.kind === 'promql')) {
  for (const name of metricNames(q.text)) referenced.set(name, [...(referenced.get(name) ?? []), `${q.dashboard} / ${q.panel}`]);
}
for (const rule of alertRules()) {
  for (const name of metricNames(rule.expr)) referenced.set(name, [...(referenced.get(name) ?? []), `alert ${rule.alert}`]);
}

describe('dashboards and alerts against a running darkroom', () => {
  const data = tempDataDir('darkroom-deploy-');
  let platform: Child | undefined;
  let url = '';
  let metrics: ReturnType<typeof parseExposition>;

  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    platform = darkroom(['start'], { DARKROOM_DATA_DIR: data.dir, PORT: String(port), DARKROOM_SIMULATE: '0', DARKROOM_PARTITIONS: '4' });
    await eventually(async () => (await fetch(`${url}/healthz`)).ok, 90_000, `darkroom start to be healthy:\n${platform.output()}`);

    const simulator = darkroom(['simulate', '--url', url, '--users', '300', '--events', '3000', '--as-fast-as-possible', '--seed', '7'], {});
    expect(await exitOf(simulator), simulator.output()).toBe(0);
    await fetch(`${url}/v1/no-such-route`); // an unmatched route is a route label too

    // The views catch up, and the lag gauge (refreshed every 5 s) reports it.
    await eventually(async () => {
      const status = await (await fetch(`${url}/v1/status`)).json() as { lag: number };
      if (status.lag !== 0) return false;
      const m = parseExposition(await (await fetch(`${url}/metrics`)).text());
      return (m.samples.get('darkroom_processor_lag_events') ?? []).length > 0 && m.total('darkroom_processor_lag_events') === 0 ? m : false;
    }, 90_000, 'lag 0 in /v1/status and in the lag gauge');
    metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
  });

  afterAll(async () => {
    await stop(platform);
    data.remove();
  });

  it('the dashboards and alerts name the metrics they are about', () => {
    expect([...referenced.keys()]).toEqual(expect.arrayContaining([
      'darkroom_events_ingested_total', 'darkroom_processor_events_total', 'darkroom_processor_lag_events',
      'darkroom_processor_batch_records_bucket', 'darkroom_sink_apply_seconds_bucket', 'darkroom_dead_letters_total',
      'darkroom_sink_errors_total', 'darkroom_http_request_duration_seconds_bucket',
    ]));
  });

  it('every metric a dashboard or alert names is exposed by /metrics', () => {
    const missing = [...referenced].filter(([name]) => !metrics.exposes(name)).map(([name, where]) => `${name} (${where.join('; ')})`);
    expect(missing).toEqual([]);
  });

  it('the flow metrics carry samples after traffic', () => {
    // Failure counters (dead letters, sink errors) have no series until something fails: that is not
    // checked here. Everything that describes normal flow must have data on the dashboards.
    expect(metrics.total('darkroom_events_ingested_total')).toBeGreaterThanOrEqual(3000);
    for (const topic of ['posts', 'engagement', 'social-graph']) expect(metrics.total('darkroom_events_ingested_total', `topic="${topic}"`), topic).toBeGreaterThan(0);
    for (const processor of ['feed-fanout', 'trending-hashtags', 'engagement-counters', 'seen-state', 'analytics']) {
      expect(metrics.total('darkroom_processor_events_total', `processor="${processor}"`), processor).toBeGreaterThan(0);
      expect(metrics.total('darkroom_processor_batch_records_count', `processor="${processor}"`), processor).toBeGreaterThan(0);
      expect(metrics.total('darkroom_sink_apply_seconds_count', `processor="${processor}"`), processor).toBeGreaterThan(0);
      expect(metrics.samples.get('darkroom_processor_lag_events')?.some((s) => s.labels.includes(`processor="${processor}"`)), `lag of ${processor}`).toBe(true);
    }
    expect(metrics.total('darkroom_http_request_duration_seconds_count', 'route="/v1/events"')).toBeGreaterThan(0);
    expect(metrics.total('darkroom_http_request_duration_seconds_count', 'route="unmatched"')).toBeGreaterThan(0);
    expect(metrics.total('darkroom_process_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('`darkroom process` alone answers /healthz and /metrics, as the processors service needs', async () => {
    // The shared data dir holds `start`'s lmdb and chDB, so the processors role gets its own.
    const own = tempDataDir('darkroom-deploy-process-');
    const port = await freePort();
    const processors = darkroom(['process'], { DARKROOM_DATA_DIR: own.dir, PORT: String(port), DARKROOM_PARTITIONS: '4' });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 90_000, `darkroom process to be healthy:\n${processors.output()}`);
      const m = await eventually(async () => {
        const parsed = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        return (parsed.samples.get('darkroom_processor_lag_events') ?? []).length >= 5 ? parsed : false;
      }, 30_000, 'the lag gauge of darkroom process');
      const missing = [...referenced.keys()].filter((name) => !m.exposes(name));
      expect(missing).toEqual([]);
      // No ingest in this role.
      expect((await fetch(`http://127.0.0.1:${port}/v1/events`, { method: 'POST' })).status).toBe(404);
    } finally {
      await stop(processors);
      own.remove();
    }
  });
});
