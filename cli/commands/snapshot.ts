// `darkroom snapshot create [--name <n>] | list | drop <name>`: snapshots of the views, the start of a
// replay when retention removed the start of a topic (`darkroom replay --from-snapshot <name>`).
// A snapshot is a generation nobody writes any more, with the offsets it holds (processors/replay/snapshots.ts).
//
// Where the work happens, as for `darkroom replay`: a darkroom answering on PORT with
// DARKROOM_ADMIN_TOKEN set does it (it owns the embedded stores, and on Redis its processors' batches
// wait while it copies, so views and offsets match); otherwise this process opens the stores, which
// for `create` is only exact when nothing writes them: on the embedded store (one lmdb transaction)
// with no platform running, never on Redis, where `darkroom process` replicas may be writing.
import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { ReplayRefused, createSnapshot, listSnapshots, snapshotName, type SnapshotInfo } from '../../processors/replay/index.ts';
import { adminCall, openReplayEngines } from './replay.ts';
import { platformAnswers } from '../platform.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);
const number = (n: number) => n.toLocaleString('en-US');

async function where(): Promise<{ config: ReturnType<typeof loadConfig>; remote: boolean }> {
  const config = loadConfig();
  const running = await platformAnswers(config.port);
  if (running && config.adminToken) return { config, remote: true };
  if (running && !config.redisUrl) {
    throw new UserError(`a darkroom runs on port ${config.port} and owns the embedded stores; set DARKROOM_ADMIN_TOKEN (for both) so it takes the snapshot through /v1/admin/snapshots`);
  }
  return { config, remote: false };
}

export async function snapshotCreate(options: { name?: string }): Promise<void> {
  const { config, remote } = await where();
  let made: { generation: string; from: string; views: number };
  if (remote) {
    made = (await adminCall<{ snapshot: typeof made }>(config, 'POST', 'snapshots', options.name ? { name: options.name } : {})).snapshot;
  } else {
    if (config.redisUrl) {
      throw new UserError('on Redis a snapshot must be taken by the darkroom that runs the processors (its batches wait while it copies): start it with DARKROOM_ADMIN_TOKEN and PORT and run this again, or keep a generation with darkroom replay --keep-old');
    }
    const engines = await openReplayEngines(config);
    try {
      const from = await engines.views.currentGeneration();
      const result = await createSnapshot(engines.views, engines.topology, from, options.name ?? snapshotName(Date.now()))
        .catch((error: Error) => { throw error instanceof ReplayRefused ? new UserError(error.message) : error; });
      made = { ...result, from };
    } finally {
      await engines.close();
    }
  }
  process.stdout.write(`${made.generation}\n`);
  say(`snapshot ${made.generation}: copied generation ${made.from} (${number(made.views)} views and their offsets); replay from it with darkroom replay --from-snapshot ${made.generation}`);
}

export async function snapshotList(): Promise<void> {
  const { config, remote } = await where();
  let snapshots: SnapshotInfo[];
  if (remote) {
    snapshots = (await adminCall<{ snapshots: SnapshotInfo[] }>(config, 'GET', 'snapshots')).snapshots;
  } else {
    const engines = await openReplayEngines(config);
    try {
      snapshots = await listSnapshots(engines.views, engines.backbone.backend, engines.topology);
    } finally {
      await engines.close();
    }
  }
  for (const s of snapshots) {
    const records = Object.values(s.records).reduce((a, b) => a + b, 0);
    process.stdout.write(`${s.generation}\t${number(records)} input records\t${s.unusable === null ? 'usable' : `unusable: ${s.unusable}`}\n`);
  }
  if (!snapshots.length) say('no snapshots (take one with darkroom snapshot create)');
}

export async function snapshotDrop(name: string): Promise<void> {
  const { config, remote } = await where();
  if (remote) {
    const res = await fetch(`http://127.0.0.1:${config.port}/v1/admin/snapshots/${encodeURIComponent(name)}`, {
      method: 'DELETE', headers: { authorization: `Bearer ${config.adminToken}` },
    }).catch(() => { throw new UserError(`no darkroom answers on port ${config.port}`); });
    if (!res.ok) {
      const answer = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      throw new UserError(answer.error?.message ?? `HTTP ${res.status} from /v1/admin/snapshots`);
    }
  } else {
    const engines = await openReplayEngines(config);
    try {
      const known = await engines.views.generations();
      if (!known.includes(name)) throw new UserError(`no snapshot ${name}`);
      if (name === (await engines.views.currentGeneration())) throw new UserError(`${name} is the generation serving reads, not a snapshot`);
      await engines.views.dropGeneration(name);
    } finally {
      await engines.close();
    }
  }
  say(`snapshot ${name} dropped`);
}
