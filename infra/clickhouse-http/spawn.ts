// Starts the HTTP adapter (server.ts) as a child process on a given port and data dir, for tests that
// must stop and restart "ClickHouse" (a private instance, never the shared one on 18123).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const SERVER = path.join(import.meta.dirname, 'server.ts');

export interface ClickHouseProcess {
  readonly url: string;
  readonly pid: number;
  /** SIGKILL by default: the endpoint vanishes mid-request, as a crashed server or a cut network would. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startClickHouseHttp(options: { dataDir: string; port: number; timeoutMs?: number }): Promise<ClickHouseProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SERVER, '--path', options.dataDir, '--port', String(options.port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (d) => { output = (output + d).slice(-4000); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`clickhouse-http did not start within ${options.timeoutMs ?? 30_000} ms: ${output}`)); }, options.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d) => { if (String(d).includes('listening on')) { clearTimeout(timer); resolve(); } });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`clickhouse-http exited while starting (${code}): ${output}`)); });
  });
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${options.port}`,
    pid: child.pid!,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await gone;
    },
  };
}
