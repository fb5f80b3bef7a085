// Private instances of the real services for fault tests, which stop and restart them: a one-node
// KRaft Kafka broker (the jars infra/services.sh uses) and a redis-server, each on free loopback ports
// in its own temp dir, never the shared ones on 19092/16379. Also `darkroom start` as a child process,
// so a fault hits a real process (SIGKILL, a broker going away under it).
//
// Kafka keeps its data dir across stop()/start(); Redis has no persistence, so it restarts empty.
// Under CI=true a missing java or redis-server fails the suite (describeWithBinaries); elsewhere the
// suite is skipped with the reason in its title.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe } from 'vitest';
import { freePort } from './free-port.ts';
import { eventually, sleep } from './tmp.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const KAFKA_LIBS = path.join(ROOT, 'infra/kafka/libs');
const KAFKA_CLASSPATH = `${KAFKA_LIBS}/*`;

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
}

/** What a private service needs on this machine; empty when everything is there. */
export function missingBinaries(services: Array<'kafka' | 'redis'>): string[] {
  const missing: string[] = [];
  if (services.includes('kafka')) {
    if (!onPath('java')) missing.push('java');
    const jars = existsSync(KAFKA_LIBS) ? readdirSync(KAFKA_LIBS) : [];
    if (!jars.some((jar) => jar.startsWith('kafka_2.13-'))) missing.push('Kafka jars in infra/kafka/libs');
  }
  if (services.includes('redis') && !onPath('redis-server')) missing.push('redis-server');
  return missing;
}

/** `describe` when the binaries exist; under CI=true their absence is a failure, never a skip. */
export function describeWithBinaries(services: Array<'kafka' | 'redis'>, title: string, body: () => void): void {
  const missing = missingBinaries(services);
  if (missing.length === 0) { describe(title, body); return; }
  const reason = `${missing.join(', ')} not installed (run: bash infra/install.sh)`;
  if (process.env.CI === 'true') describe(title, () => { throw new Error(`CI=true and ${reason}`); });
  else describe.skip(`${title} [skipped: ${reason}]`, body);
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
async function terminate(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface PrivateService {
  /** Starts (or restarts) the service; resolves once it serves. */
  start(): Promise<void>;
  /** Stops it cleanly (SIGTERM, SIGKILL after a grace period); resolves once the process is gone. */
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface PrivateKafka extends PrivateService {
  port: number;
  brokers: string;
}

/** One KRaft node, broker and controller, like infra/services.sh, on free ports under `dir`. */
export async function createPrivateKafka(dir: string): Promise<PrivateKafka> {
  const port = await freePort();
  const controllerPort = await freePort();
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const base = readFileSync(path.join(ROOT, 'infra/kafka/server.properties'), 'utf8')
    .split('\n')
    .filter((line) => !/^(controller\.quorum\.voters|listeners|advertised\.listeners)=/.test(line));
  const properties = path.join(dir, 'server.properties');
  writeFileSync(properties, [
    ...base,
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    `log.dirs=${dataDir}`,
    '',
  ].join('\n'));
  const log4j = `-Dlog4j.configuration=file:${path.join(ROOT, 'infra/kafka/log4j.properties')}`;
  const logFile = path.join(dir, 'kafka.log');

  // KRaft storage is formatted once; a restart reuses it (and every record in it).
  const id = spawnSync('java', ['-cp', KAFKA_CLASSPATH, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' });
  if (id.status !== 0) throw new Error(`kafka storage tool failed: ${id.stderr.trim().split('\n').at(-1)}`);
  const format = spawnSync('java', [log4j, '-cp', KAFKA_CLASSPATH, 'kafka.tools.StorageTool', 'format', '-t', id.stdout.trim(), '-c', properties], { encoding: 'utf8' });
  if (format.status !== 0) throw new Error(`formatting Kafka storage failed: ${(format.stderr || format.stdout).trim().split('\n').at(-1)}`);

  let child: ChildProcess | undefined;
  const kafka: PrivateKafka = {
    port,
    brokers: `127.0.0.1:${port}`,
    get running() { return child !== undefined && child.exitCode === null && child.signalCode === null; },
    async start() {
      if (kafka.running) return;
      writeFileSync(logFile, '');
      const out = openSync(logFile, 'a');
      child = spawn('java', ['-Xms256m', '-Xmx512m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true', log4j,
        '-cp', KAFKA_CLASSPATH, 'kafka.Kafka', properties], { stdio: ['ignore', out, out], env: { ...process.env, KAFKA_HEAP_OPTS: '' } });
      closeSync(out);
      const started = child;
      // The port opens before the broker has joined its own quorum; the log line comes once it serves.
      await eventually(async () => {
        if (started.exitCode !== null) throw new Error(`kafka exited while starting: ${readFileSync(logFile, 'utf8').split('\n').find((l) => /ERROR|Exception/.test(l)) ?? ''}`);
        return readFileSync(logFile, 'utf8').includes('Kafka Server started') && await portAnswers(port);
      }, 120_000, `private Kafka on port ${port} to start (log: ${logFile})`);
    },
    async stop() {
      await terminate(child, 30_000);
    },
  };
  return kafka;
}

export interface PrivateRedis extends PrivateService {
  port: number;
  url: string;
}

/** A redis-server without persistence on a free port: every restart starts empty. */
export async function createPrivateRedis(dir: string): Promise<PrivateRedis> {
  const port = await freePort();
  mkdirSync(dir, { recursive: true });
  let child: ChildProcess | undefined;
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    get running() { return child !== undefined && child.exitCode === null && child.signalCode === null; },
    async start() {
      if (redis.running) return;
      child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' });
      const started = child;
      await eventually(async () => {
        if (started.exitCode !== null) throw new Error(`redis-server exited with ${started.exitCode}`);
        return portAnswers(port);
      }, 15_000, `private Redis on port ${port} to start`);
    },
    async stop() {
      await terminate(child, 10_000);
    },
  };
  return redis;
}

// ------------------------------------------------------------------------------------ darkroom

export interface DarkroomProcess {
  base: string;
  port: number;
  pid: number;
  /** Everything the process wrote to stderr (its log). */
  log(): string;
  /** Peak resident set size so far (VmHWM), in bytes; 0 once the process is gone. */
  peakRss(): number;
  /** Current resident set size (VmRSS), in bytes. */
  rss(): number;
  /** Resolves once /healthz answers 200 (processors caught up with their stored state). */
  ready(timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function statusField(pid: number, field: string): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.replace(/\D+/g, '')) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `darkroom start` (ingest, processors and serving in one process) as `npm start` runs it, with
 * `env` on top of a clean environment: no simulator, the given data dir and port. `command` runs one
 * role instead (`serve`, `process`), as the scale-out deployment does.
 */
export async function spawnDarkroom(options: { dataDir: string; port?: number; env?: Record<string, string>; command?: 'start' | 'serve' | 'process' }): Promise<DarkroomProcess> {
  const port = options.port ?? await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp',
    PORT: String(port), DARKROOM_DATA_DIR: options.dataDir, DARKROOM_SIMULATE: '0', ...options.env,
  };
  const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin.mjs'), options.command ?? 'start'], { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => { log += chunk.toString(); if (log.length > 2_000_000) log = log.slice(-1_000_000); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const base = `http://127.0.0.1:${port}`;
  const darkroom: DarkroomProcess = {
    base, port, pid: child.pid!,
    log: () => log,
    peakRss: () => statusField(child.pid!, 'VmHWM'),
    rss: () => statusField(child.pid!, 'VmRSS'),
    async ready(timeoutMs = 90_000) {
      let gone = false;
      void exited.then(() => { gone = true; });
      await eventually(async () => {
        if (gone) throw new Error(`darkroom exited while starting:\n${log.slice(-2_000)}`);
        return (await fetch(`${base}/healthz`)).status === 200;
      }, timeoutMs, `darkroom on port ${port} to be ready`);
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
    exited,
  };
  return darkroom;
}

/**
 * Runs one `darkroom` command to its end (killed after `timeoutMs`, which the result says, so a
 * command that hangs fails its test with its output instead of a test timeout).
 */
export function runDarkroom(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin.mjs'), ...args], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, stdout, stderr, timedOut }); });
  });
}

export { sleep };
