// Crash test: SIGKILL the processing process at random moments during a 100,000-event run, restart it,
// and the final views equal those of an uninterrupted run exactly.
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSimulation } from '../../simulator/index.ts';
import { startTestPlatform } from '../helpers/platform.ts';
import { snapshotViews } from '../helpers/snapshot.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const EVENTS = 100_000;
const USERS = 2_000;
const PARTITIONS = 4;
const root = tempDataDir('darkroom-crash-');
const live = path.join(root.dir, 'crashed');
const reference = path.join(root.dir, 'reference');
afterAll(() => root.remove());

/** Lag lines the last child printed: how long the uninterrupted run kept processing. */
let lagLines = 0;

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/run-pipeline.ts');

/**
 * Runs the pipeline child; resolves when it finished (done) or was killed. With `killAfterLines` it is
 * SIGKILLed once it has printed that many lag lines (one per ~100 ms of processing), so the kill lands
 * while records are being processed, however fast the machine is.
 */
function runChild(dataDir: string, killAfterLines?: number): Promise<'done' | 'killed'> {
  lagLines = 0;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let done = false;
    let lines = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (text.includes('"done"')) done = true;
      lines += text.split('\n').filter((l) => l.includes('"lag"') && !l.includes('"lag":0')).length;
      lagLines = lines;
      if (killAfterLines !== undefined && !done && lines >= killAfterLines) child.kill('SIGKILL');
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(done ? 'done' : 'killed');
      else if (code === 0 && done) resolve('done');
      else reject(new Error(`pipeline child exited with ${code ?? signal}`));
    });
  });
}

describe('crash test', () => {
  // No retry: a task folds its input topics in timestamp order (runtime.ts), so the order between
  // topics no longer depends on what a restart happened to fetch first (test/integration/runtime-order).
  it(`SIGKILL at random moments during a ${EVENTS}-event run gives exactly the views of an uninterrupted run`, { timeout: 600_000 }, async () => {
    const writer = await startTestPlatform({ mode: 'embedded', dataDir: live, startProcessors: false, topology: { partitions: PARTITIONS } });
    const simulation = createSimulation({ users: USERS, seed: 7, startTs: Date.UTC(2026, 0, 1), rate: 2_000 });
    let batch = [];
    for (const event of simulation.bootstrap()) {
      batch.push(event);
      if (batch.length === 5_000) { await writer.producer.send(batch); batch = []; }
    }
    await writer.producer.send(batch);
    for (let sent = 0; sent < EVENTS; sent += 5_000) await writer.producer.send(simulation.next(5_000));
    const posts = simulation.stats().posts;
    await writer.close();
    cpSync(live, reference, { recursive: true });

    expect(await runChild(reference)).toBe('done');
    // Kills land within the time the uninterrupted run needed, however fast the machine is. The first
    // lands in the first quarter of it: a kill point drawn from the whole run could come after the end
    // of a crashed run that went faster than the reference (a CI run once finished with no kill at all).
    const referenceLines = Math.max(2, lagLines);
    const killPoint = (withinLines: number) => 1 + Math.floor(Math.random() * Math.max(1, withinLines - 1));

    let kills = 0;
    for (let i = 0; i < 6; i++) {
      const outcome = await runChild(live, killPoint(i === 0 ? Math.ceil(referenceLines / 4) : referenceLines));
      if (outcome === 'killed') kills++;
      else break;
    }
    expect(await runChild(live)).toBe('done');
    expect(kills).toBeGreaterThan(0);

    const scope = { users: USERS, posts: Math.max(posts, 1) + 100, partitions: PARTITIONS };
    // chDB allows one data directory per process: read one run's views, close, then the other's.
    const snapshotOf = async (dataDir: string) => {
      const p = await startTestPlatform({ mode: 'embedded', dataDir, startProcessors: false, topology: { partitions: PARTITIONS } });
      try { return await snapshotViews(p.views, p.generation, p.analytics, scope); } finally { await p.close(); }
    };
    const expected = await snapshotOf(reference);
    const actual = await snapshotOf(live);
    expect(Object.keys(expected.feeds).length).toBeGreaterThan(100);
    expect(Object.keys(expected.stats).length).toBeGreaterThan(100);
    expect(expected.analyticsRows).toBeGreaterThanOrEqual(EVENTS);
    expect(actual.analyticsRows).toBe(expected.analyticsRows);
    expect(actual.stats).toEqual(expected.stats);
    expect(actual.timelines).toEqual(expected.timelines);
    expect(actual.feeds).toEqual(expected.feeds);
    expect(actual.trending).toEqual(expected.trending);
  });
});
