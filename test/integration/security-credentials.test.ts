// Credentials come from the environment (URLs with user:password, rediss://) and never show up in
// what darkroom prints or serves: not in stdout/stderr when a service is unreachable, not in
// /v1/status of a running platform. The real command is started (`node cli/bin.mjs start`).
import { spawn } from 'node:child_process';
import { freePort } from '../helpers/free-port.ts';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeWith, SERVICES } from '../services.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const SECRET = 'SECRETPW';
const BIN = path.resolve(import.meta.dirname, '../../cli/bin.mjs');
const dirs: Array<{ remove(): void }> = [];
afterAll(() => { for (const d of dirs) d.remove(); });

interface Run { output: () => string; exited: Promise<number | null>; stop(): void }

async function startDarkroom(env: Record<string, string>): Promise<Run & { port: number }> {
  const data = tempDataDir('darkroom-creds-');
  dirs.push(data);
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'start'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DARKROOM_DATA_DIR: data.dir, PORT: String(port), DARKROOM_SIMULATE: '0', DARKROOM_PARTITIONS: '2', DARKROOM_DEBUG: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
  void exited.then(() => clearTimeout(kill));
  return { port, output: () => output, exited, stop: () => child.kill('SIGTERM') };
}

describe('an unreachable service with credentials in its URL', () => {
  it.each([
    ['REDIS_URL', `redis://user:${SECRET}@127.0.0.1:1`, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/],
    ['REDIS_URL', `rediss://:${SECRET}@127.0.0.1:1/0`, /Redis/],
    ['CLICKHOUSE_URL', `http://default:${SECRET}@127.0.0.1:1`, /ClickHouse at http:\/\/(\*\*\*:\*\*\*@)?127\.0\.0\.1:1/],
    ['SCHEMA_REGISTRY_URL', `http://user:${SECRET}@127.0.0.1:1`, /schema registry at http:\/\/(\*\*\*:\*\*\*@)?127\.0\.0\.1:1/],
  ])('%s=%s: one clear line, exit 1, the password nowhere', async (name, url, says) => {
    const run = await startDarkroom({ [name]: url });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(says);
    expect(run.output()).not.toContain(SECRET);
  });
});

describeWith(['redis'], 'a running platform with a password in REDIS_URL', () => {
  it('/v1/status, /healthz, /metrics and the logs never show it', async () => {
    const redis = new URL(SERVICES.redis);
    // The test Redis has no password: ioredis warns and goes on, which is enough to start with a secret in the URL.
    const run = await startDarkroom({ REDIS_URL: `redis://:${SECRET}@${redis.host}/`, DARKROOM_ADMIN_TOKEN: 'adm' });
    try {
      const base = `http://127.0.0.1:${run.port}`;
      const deadline = Date.now() + 60_000;
      let status: Response | undefined;
      while (Date.now() < deadline) {
        status = await fetch(`${base}/v1/status`).catch(() => undefined);
        if (status?.ok) break;
        if (run.output().includes('darkroom:')) break; // exited with an error
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(status?.status, run.output()).toBe(200);
      const body = await status!.text();
      expect(body).toMatch(/"views":"redis"/);
      for (const page of [body, await (await fetch(`${base}/metrics`)).text(), await (await fetch(`${base}/healthz`)).text(),
        await (await fetch(`${base}/v1/admin/sql`, { method: 'POST', headers: { authorization: 'Bearer adm' }, body: '{"sql":"SELECT nope FROM nowhere"}' })).text()]) {
        expect(page).not.toContain(SECRET);
      }
    } finally {
      run.stop();
      await run.exited;
    }
    expect(run.output()).not.toContain(SECRET);
  });
});
