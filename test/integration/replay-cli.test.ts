// `darkroom replay` and `darkroom verify` against a running `npm start` (embedded mode): the running
// process owns the stores, so both commands go through its admin routes; progress shows on the
// terminal and in /v1/status; serving answers throughout and then reads the new generation.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDarkroom } from '../helpers/private-services.ts';
import { eventually, tempDataDir } from '../helpers/tmp.ts';
import { createSimulation } from '../../simulator/index.ts';

const PORT = 19_100 + Math.floor(Math.random() * 800);
const base = `http://127.0.0.1:${PORT}`;
const TOKEN = 'replay-admin-secret';
const data = tempDataDir('darkroom-replay-cli-');
const env = {
  ...process.env, PORT: String(PORT), DARKROOM_DATA_DIR: data.dir, DARKROOM_SIMULATE: '0', DARKROOM_PARTITIONS: '4',
  DARKROOM_ADMIN_TOKEN: TOKEN, DARKROOM_REPLAY_POLL_MS: '200', REDIS_URL: '', KAFKA_BROKERS: '', CI: process.env.CI ?? '',
};
let platform: ChildProcess;
let output = '';

const darkroom = (args: string[]) => runDarkroom(args, env);

const status = async () => (await (await fetch(`${base}/v1/status`)).json()) as { lag: number; views: { generation: string; state: string; replay: { phase: string } | null } };

beforeAll(async () => {
  platform = spawn('npm', ['start', '--silent'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  platform.stdout!.on('data', (d: Buffer) => { output += d.toString(); });
  platform.stderr!.on('data', (d: Buffer) => { output += d.toString(); });
  await eventually(async () => (await fetch(`${base}/healthz`)).ok, 90_000, `npm start to serve (output: ${output})`);
  const simulation = createSimulation({ users: 200, seed: 5, startTs: Date.now() - 60_000, rate: 1_000 });
  const events = [...simulation.bootstrap(), ...simulation.next(3_000)];
  for (let i = 0; i < events.length; i += 1_000) {
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events.slice(i, i + 1_000)) });
    expect(res.status).toBe(202);
  }
  await eventually(async () => (await status()).lag === 0, 60_000, 'lag 0');
}, 150_000);

afterAll(async () => {
  if (platform?.pid) {
    try { process.kill(-platform.pid, 'SIGTERM'); } catch { /* already gone */ }
    await new Promise((r) => platform.once('exit', r));
  }
  data.remove();
});

describe('darkroom replay / verify beside a running platform (embedded)', () => {
  it('replays into a new generation, switches serving, and verify finds it identical to the old one', async () => {
    expect((await status()).views.generation).toBe('g1');
    let readFailures = 0;
    let reading = true;
    const reads = (async () => {
      while (reading) {
        const res = await fetch(`${base}/v1/users/u1/feed?limit=10`).catch(() => undefined);
        if (!res || res.status !== 200) readFailures++;
        await res?.arrayBuffer();
      }
    })();
    const replay = await darkroom(['replay', '--keep-old']);
    reading = false;
    await reads;
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toMatch(/records\/s/);
    expect(replay.stderr).toMatch(/done, .* serving reads g2/);
    expect(readFailures).toBe(0);
    const after = await status();
    expect(after.views.generation).toBe('g2');
    expect(after.views.replay?.phase).toBe('done');

    const same = await darkroom(['verify', '--generation', 'g1', '--against', 'g2']);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stderr).toMatch(/identical/);
    const fresh = await darkroom(['verify']);
    expect(fresh.code, fresh.stdout + fresh.stderr).toBe(0);
  });

  it('verify exits 1 and prints the differences when generations differ; replay names an unknown processor', async () => {
    // g1 was kept; live ingest since the switch went to g2 only.
    const simulation = createSimulation({ users: 200, seed: 5, startTs: Date.now() - 60_000, rate: 1_000 });
    [...simulation.bootstrap()];
    simulation.next(3_000);
    const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(simulation.next(500)) });
    expect(res.status).toBe(202);
    await eventually(async () => (await status()).lag === 0, 60_000, 'lag 0');
    const differ = await darkroom(['verify', '--generation', 'g1', '--against', 'g2']);
    expect(differ.code).toBe(1);
    expect(differ.stderr).toMatch(/\d+ differ/);
    expect(differ.stdout).toMatch(/\n {2}(g1: |(field|member) ".*": g1 )/);

    // A platform that does not answer on the PORT given (still starting, or on another port) still
    // owns the embedded stores: found by its pid file, never opened beside it.
    for (const command of [['replay'], ['verify'], ['snapshot', 'create']]) {
      const beside = await runDarkroom(command, { ...env, PORT: String(PORT + 1) });
      expect(beside.code, beside.stderr).toBe(1);
      expect(beside.stderr.trim()).toMatch(new RegExp(`^darkroom: a darkroom \\(pid \\d+\\) runs on .* and owns its embedded stores, but does not answer on port ${PORT + 1}`));
    }

    const unknown = await darkroom(['replay', '--processor', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^darkroom: unknown processor "nope"/);
  });

  it('snapshot create / list / drop, and replay --from-snapshot, through the running platform', async () => {
    const created = await darkroom(['snapshot', 'create', '--name', 'cli-snap']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toBe('cli-snap');
    expect(created.stderr).toMatch(/snapshot cli-snap: copied generation g\d+ \([\d,]+ views and their offsets\)/);
    const taken = await darkroom(['snapshot', 'create', '--name', 'cli-snap']);
    expect(taken.code).toBe(1);
    expect(taken.stderr.trim()).toBe('darkroom: generation cli-snap already exists; choose another snapshot name');

    const listed = await darkroom(['snapshot', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^cli-snap\t[\d,]+ input records\tusable$/m);

    const missing = await darkroom(['replay', '--from-snapshot', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^darkroom: no snapshot nope \(snapshots: .*cli-snap/);

    const before = (await status()).views.generation;
    const replay = await darkroom(['replay', '--from-snapshot', 'cli-snap']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stderr).toMatch(/from snapshot cli-snap into g\d+/);
    expect(replay.stderr).toMatch(/done, .* serving reads g\d+/);
    expect((await status()).views.generation).not.toBe(before);

    const dropped = await darkroom(['snapshot', 'drop', 'cli-snap']);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect((await darkroom(['snapshot', 'list'])).stdout).not.toMatch(/cli-snap/);
  });
});
