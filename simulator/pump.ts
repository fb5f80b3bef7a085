// Sends a simulation's events somewhere (the event producer, or a darkroom over HTTP) at a target
// rate of wall-clock time, with progress. Lives beside the simulator because `darkroom simulate` and
// `npm start` both pace traffic the same way.
import type { DarkroomEvent } from '../schemas/events.ts';
import type { Simulation } from './index.ts';

export interface PumpOptions {
  simulation: Simulation;
  send: (events: DarkroomEvent[]) => Promise<void>;
  /** Events per second of wall-clock time; Infinity sends as fast as `send` accepts. */
  rate: number;
  batch: number;
  /** Stop after this many stream events (bootstrap not counted)... */
  maxEvents?: number;
  /** ...or after this long. */
  durationMs?: number;
  /** Send the world (profiles, follows) first. */
  bootstrap: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { phase: 'bootstrap' | 'traffic'; sent: number; total?: number; elapsedMs: number }) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function pump(options: PumpOptions): Promise<{ bootstrapped: number; sent: number; elapsedMs: number }> {
  const { simulation, send, batch } = options;
  const started = Date.now();
  let lastReport = started;
  const report = (phase: 'bootstrap' | 'traffic', sent: number, total?: number, force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 1000) return;
    lastReport = now;
    options.onProgress?.({ phase, sent, total, elapsedMs: now - started });
  };

  let bootstrapped = 0;
  if (options.bootstrap) {
    let chunk: DarkroomEvent[] = [];
    for (const event of simulation.bootstrap()) {
      chunk.push(event);
      if (chunk.length >= 5_000) {
        await send(chunk);
        bootstrapped += chunk.length;
        chunk = [];
        report('bootstrap', bootstrapped, simulation.bootstrapSize);
        if (options.signal?.aborted) break;
      }
    }
    if (chunk.length && !options.signal?.aborted) { await send(chunk); bootstrapped += chunk.length; }
    report('bootstrap', bootstrapped, simulation.bootstrapSize, true);
  }

  const trafficStart = Date.now();
  let sent = 0;
  while (!options.signal?.aborted) {
    if (options.maxEvents !== undefined && sent >= options.maxEvents) break;
    if (options.durationMs !== undefined && Date.now() - trafficStart >= options.durationMs) break;
    const size = Math.min(batch, options.maxEvents === undefined ? batch : options.maxEvents - sent);
    await send(simulation.next(size));
    sent += size;
    report('traffic', sent, options.maxEvents);
    if (Number.isFinite(options.rate)) {
      const due = trafficStart + (sent / options.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }
  report('traffic', sent, options.maxEvents, true);
  return { bootstrapped, sent, elapsedMs: Date.now() - started };
}
