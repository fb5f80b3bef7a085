// Mistakes a user can make at the terminal, through the real `darkroom` command on the embedded
// engines: each ends with one line on stderr and a non-zero exit, and none changes the data it
// points at. (Found by using the product: tools that created empty stores in a mistyped data dir,
// grew the topics' partitions or set their retention, and dumped an EPIPE stack into `| head`.)
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDarkroom } from '../helpers/private-services.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const data = tempDataDir('darkroom-cli-errors-');
const dir = path.join(data.dir, 'data');
const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', DARKROOM_DATA_DIR: dir, PORT: '1' };

/** One line on stderr, exit 1. */
async function refused(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const run = await runDarkroom(args, { ...base, ...env }, 60_000);
  expect(run.code, run.stderr).toBe(1);
  expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1);
  return run.stderr.trim();
}

beforeAll(async () => {
  const simulated = await runDarkroom(['simulate', '--users', '50', '--rate', '1000', '--duration', '1s'], base, 60_000);
  expect(simulated.code, simulated.stderr).toBe(0);
}, 90_000);

afterAll(() => data.remove());

describe('darkroom commands answer user mistakes with one line', () => {
  it('a data dir with no darkroom data is named, and not created', async () => {
    const absent = path.join(data.dir, 'typo');
    for (const args of [['topics'], ['tail', 'posts', '--limit', '1'], ['sql', 'SELECT 1'], ['replay'], ['verify']]) {
      expect(await refused(args, { DARKROOM_DATA_DIR: absent })).toBe(`darkroom: no darkroom data in ${absent}: set DARKROOM_DATA_DIR to the directory darkroom start uses (it creates it)`);
    }
    expect((await runDarkroom(['topics'], base)).code).toBe(0);
    await expect(import('node:fs').then((fs) => fs.promises.stat(absent))).rejects.toThrow(/ENOENT/);
  });

  it('another partition count is refused, and the topics keep theirs', async () => {
    expect(await refused(['topics'], { DARKROOM_PARTITIONS: '16' }))
      .toMatch(/^darkroom: cannot use the embedded log in .*: topic "[a-z-]+" has 8 partitions, not 16: .* run with DARKROOM_PARTITIONS=8$/);
    const listed = await runDarkroom(['topics'], base);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).not.toMatch(/\b16\b/);
  });

  it("a tool run with another retention leaves the topics' own", async () => {
    const tool = await runDarkroom(['topics'], { ...base, DARKROOM_LOG_RETENTION_MS: '2000' });
    expect(tool.code, tool.stderr).toBe(0);
    expect(tool.stdout).toMatch(/^posts +author_id +8 +[\d,]+ +forever$/m);
  });

  it('bad settings and options', async () => {
    expect(await refused(['topics'], { REDIS_URL: '127.0.0.1:6379' })).toBe('darkroom: REDIS_URL must be a URL starting with redis:// or rediss://, got "127.0.0.1:6379"');
    expect(await refused(['start'], { PORT: '70000' })).toBe('darkroom: PORT must be an integer from 0 to 65535, got "70000"');
    expect(await refused(['verify', '--limit', '0'])).toMatch(/^error: option '--limit <n>' argument '0' is invalid/);
    expect(await refused(['simulate', '--url', 'notaurl', '--duration', '1s'])).toBe('darkroom: --url must be the http(s) address of a darkroom, e.g. http://localhost:8080, got "notaurl"');
  });

  it('a reader that stops early (| head) ends tail quietly', async () => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin.mjs'), 'tail', 'engagement', '--from-beginning'], { env: base, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.stdout!.destroy(); // what `head` does once it has its lines
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(stderr).not.toMatch(/EPIPE|at /);
    expect(code).toBe(0);
  });
});
