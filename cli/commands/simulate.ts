import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { openBackbone, redactUrl } from '../platform.ts';
import { createSimulation, SimulationOptionsError } from '../../simulator/index.ts';
import { pump } from '../../simulator/pump.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

interface SimulateOptions {
  users: number; rate: number; duration: number; events?: number; seed: number;
  url?: string; token?: string; batch: number; asFastAsPossible?: boolean;
}

function httpSender(url: string, token: string | undefined) {
  let endpoint: string;
  try {
    endpoint = new URL('/v1/events', url).toString();
    if (!/^https?:$/.test(new URL(endpoint).protocol)) throw new Error('not http');
  } catch {
    throw new UserError(`--url must be the http(s) address of a darkroom, e.g. http://localhost:8080, got "${url}"`);
  }
  return async (events: DarkroomEvent[]) => {
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(events),
      });
    } catch (error) {
      throw new UserError(`cannot reach darkroom at ${redactUrl(url)}: ${(error as Error).cause ?? (error as Error).message}`);
    }
    if (response.status !== 202) {
      throw new UserError(`darkroom at ${redactUrl(url)} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    }
  };
}

export async function simulate(options: SimulateOptions): Promise<void> {
  let simulation;
  try {
    // Its own ids: another run (npm start's simulator, an earlier simulate) may have written p1 already.
    const startTs = Date.now();
    simulation = createSimulation({ users: options.users, seed: options.seed, startTs, rate: options.rate, run: startTs.toString(36) });
  } catch (error) {
    if (error instanceof SimulationOptionsError) throw new UserError(error.message);
    throw error;
  }
  // Simulated traffic may be the first thing a data dir receives.
  const backbone = options.url ? undefined : await openBackbone(loadConfig(), [], { creates: true });
  const send = options.url ? httpSender(options.url, options.token) : (events: DarkroomEvent[]) => backbone!.producer.send(events);
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  try {
    const result = await pump({
      simulation, send, batch: options.batch, bootstrap: true, signal: abort.signal,
      rate: options.asFastAsPossible ? Infinity : options.rate,
      maxEvents: options.events,
      durationMs: options.events === undefined ? options.duration : undefined,
      onProgress: ({ phase, sent, total, elapsedMs }) => {
        const rate = Math.round(sent / Math.max(1, elapsedMs / 1000));
        process.stderr.write(`${phase}: ${sent}${total ? `/${total}` : ''} events (${rate}/s)\n`);
      },
    });
    process.stderr.write(`done: ${result.bootstrapped} bootstrap + ${result.sent} traffic events in ${(result.elapsedMs / 1000).toFixed(1)} s\n`);
  } finally {
    await backbone?.close();
  }
}
