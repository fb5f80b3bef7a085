// `darkroom replay [--processor <name>|all] [--keep-old] [--from-snapshot <name>]`: rebuild views from
// offset 0 (or from a snapshot's views and offsets) into a new generation, switch serving to it when it
// has caught up, drop the old one (processors/replay/).
//
// Where the work happens:
// - a darkroom answers on PORT with DARKROOM_ADMIN_TOKEN set → that process replays (it owns the
//   embedded stores; on Redis it can also replay a single processor), and this command prints its
//   progress by polling /v1/admin/replay;
// - otherwise this process rebuilds every view itself and flips the generation pointer; live
//   `darkroom start/process` processes (Kafka + Redis) notice the pointer and follow it.
import { loadConfig, type Config } from '../config.ts';
import { UserError } from '../errors.ts';
import { openBackbone, openViewStore, platformAnswers, platformOwning, viewPipelines } from '../platform.ts';
import { buildTopology } from '../../processors/topology.ts';
import { createRecordCodec } from '../../processors/record-codec.ts';
import { ReplayRefused, replayStandalone, type ReplayProgress, type StartViews } from '../../processors/replay/index.ts';
import type { ViewStore } from '../../sinks/view-store.ts';
import type { Backbone } from '../platform.ts';

export interface ReplayCliOptions { processor: string; keepOld?: boolean; fromSnapshot?: string }

const number = (n: number) => n.toLocaleString('en-US');

export function progressLine(p: ReplayProgress): string {
  const share = p.total ? Math.floor((100 * p.replayed) / p.total) : 100;
  const left = p.secondsLeft === null ? '' : `, ~${p.secondsLeft} s left`;
  if (p.phase === 'done') {
    const seconds = Math.max(0.001, (p.finishedAt! - p.startedAt) / 1000);
    return `replay ${p.from} → ${p.generation}: done, ${number(p.replayed)} records in ${seconds.toFixed(1)} s (${number(Math.round(p.replayed / seconds))} records/s); serving reads ${p.generation}`;
  }
  if (p.phase === 'failed') return `replay ${p.from} → ${p.generation}: failed: ${p.error}`;
  return `replay ${p.from} → ${p.generation} (${p.phase}): ${number(p.replayed)} / ${number(p.total)} records (${share}%), ${number(p.eventsPerSecond)} records/s${left}`;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export async function adminCall<T>(config: Config, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${config.port}/v1/admin/${route}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${config.adminToken}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch(() => { throw new UserError(`no darkroom answers on port ${config.port}`); });
  const answer = (await res.json().catch(() => ({}))) as T & { error?: { message?: string } };
  if (!res.ok) throw new UserError(answer.error?.message ?? `HTTP ${res.status} from /v1/admin/${route}`);
  return answer;
}

async function viaRunningPlatform(config: Config, options: ReplayCliOptions): Promise<void> {
  const processors = options.processor === 'all' ? 'all' : options.processor.split(',').map((p) => p.trim());
  const { replay } = await adminCall<{ replay: ReplayProgress }>(config, 'POST', 'replay', {
    processors, keep_old: options.keepOld === true, ...(options.fromSnapshot ? { from_snapshot: options.fromSnapshot } : {}),
  });
  say(`replay: the running darkroom rebuilds ${replay.processors.join(', ')} ${replay.snapshot ? `from snapshot ${replay.snapshot} ` : ''}into ${replay.generation}; serving stays on ${replay.from} until it has caught up`);
  for (;;) {
    await new Promise((r) => setTimeout(r, 1000));
    const { views } = await adminCall<{ views: { replay: ReplayProgress | null } }>(config, 'GET', 'replay');
    const p = views.replay;
    if (!p || p.generation !== replay.generation) throw new UserError('the running darkroom no longer reports this replay (restarted?)');
    say(progressLine(p));
    if (p.phase === 'failed') throw new UserError(`replay failed: ${p.error}`);
    if (p.phase === 'done') return;
  }
}

/** The pipelines a replay starts, on this process's engines. */
export async function openReplayEngines(config: Config): Promise<{ backbone: Backbone; views: ViewStore; startViews: StartViews; topology: ReturnType<typeof buildTopology>; close(): Promise<void> }> {
  const owner = config.redisUrl ? undefined : platformOwning(config);
  if (owner !== undefined) {
    // Found by its pid file: it does not answer on PORT yet (still starting) or listens on another port.
    throw new UserError(`a darkroom (pid ${owner}) runs on ${config.dataDir} and owns its embedded stores, but does not answer on port ${config.port}: once it serves, run this again with its PORT and DARKROOM_ADMIN_TOKEN`);
  }
  const topology = buildTopology(config);
  const backbone = await openBackbone(config, topology.internalTopics);
  const views = await openViewStore(config).catch(async (error) => { await backbone.close(); throw error; });
  const codec = await createRecordCodec({ serde: backbone.serde, registry: backbone.registry, internalTopics: topology.internalTopics });
  const startViews = viewPipelines(config, { backend: backbone.backend, codec, views });
  return { backbone, views, startViews, topology, async close() { await views.close(); await backbone.close(); } };
}

export async function replay(options: ReplayCliOptions): Promise<void> {
  const config = loadConfig();
  const running = await platformAnswers(config.port);
  if (running && config.adminToken) return viaRunningPlatform(config, options);
  if (running && !config.redisUrl) {
    throw new UserError(`a darkroom runs on port ${config.port} and owns the embedded stores; set DARKROOM_ADMIN_TOKEN (for both) so it replays through /v1/admin/replay`);
  }
  if (options.processor !== 'all') {
    throw new UserError('replaying one processor needs the darkroom that runs the others (their views are carried over when it switches): start it with DARKROOM_ADMIN_TOKEN and run this again, or use --processor all');
  }
  const engines = await openReplayEngines(config);
  try {
    let last = 0;
    let printed = '';
    const progress = await replayStandalone({
      views: engines.views, backend: engines.backbone.backend, topology: engines.topology, startViews: engines.startViews,
      keepOld: options.keepOld,
      fromSnapshot: options.fromSnapshot,
      rebuildBatchEffects: config.rebuildBatchEffects,
      // Live processes poll the pointer (DARKROOM_REPLAY_POLL_MS); give them a few rounds to move off the old generation.
      followGraceMs: config.redisUrl ? Math.max(3_000, 3 * config.replayPollMs) : 0,
      onProgress: (p) => {
        if (Date.now() - last < 1000 && p.phase === 'replaying') return;
        last = Date.now();
        say((printed = progressLine(p)));
      },
    }).catch((error: Error) => { throw error instanceof ReplayRefused ? new UserError(error.message) : error; });
    // The last progress report may already have been the final line.
    if (progressLine(progress) !== printed) say(progressLine(progress));
  } finally {
    await engines.close();
  }
}
