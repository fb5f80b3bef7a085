// `darkroom verify [--generation <g>] [--against <g2>]`: compares two generations view by view, or a
// generation (default: the one serving reads) with a fresh rebuild from offset 0 into a scratch
// generation that is dropped afterwards. Prints each difference; exit 0 when identical, 1 otherwise.
// A fresh rebuild is comparable only when no events arrive meanwhile (stop the traffic first).
import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { ReplayRefused, compareGenerations, describeDifference, verifyAgainstRebuild, type Difference } from '../../processors/replay/index.ts';
import { adminCall, openReplayEngines } from './replay.ts';
import { platformAnswers } from '../platform.ts';

export interface VerifyOptions { generation?: string; against?: string; limit?: number }

interface Outcome { a: string; b: string; keys: number; differing: number; differences: Difference[] }

export async function verify(options: VerifyOptions): Promise<void> {
  const config = loadConfig();
  let outcome: Outcome;
  const running = await platformAnswers(config.port);
  if (running && config.adminToken) {
    outcome = await adminCall<Outcome>(config, 'POST', 'verify', { a: options.generation, b: options.against });
  } else if (running && !config.redisUrl) {
    throw new UserError(`a darkroom runs on port ${config.port} and owns the embedded stores; set DARKROOM_ADMIN_TOKEN (for both) to verify through /v1/admin/verify`);
  } else {
    const engines = await openReplayEngines(config);
    try {
      const { views } = engines;
      const a = options.generation ?? await views.currentGeneration();
      const known = await views.generations();
      for (const g of [a, options.against]) {
        if (g !== undefined && !known.includes(g)) throw new UserError(`generation ${g} holds no data (generations: ${known.join(', ') || 'none'})`);
      }
      if (options.against) {
        outcome = { a, b: options.against, ...(await compareGenerations(views, a, options.against, options.limit)) };
      } else {
        process.stderr.write(`verify: rebuilding every view from offset 0 to compare with ${a}...\n`);
        const result = await verifyAgainstRebuild({ views, backend: engines.backbone.backend, topology: engines.topology, startViews: engines.startViews, generation: a, limit: options.limit, rebuildBatchEffects: config.rebuildBatchEffects })
          .catch((error: Error) => { throw error instanceof ReplayRefused ? new UserError(error.message) : error; });
        outcome = { a, b: 'fresh rebuild', keys: result.keys, differing: result.differing, differences: result.differences };
      }
    } finally {
      await engines.close();
    }
  }
  for (const d of outcome.differences) process.stdout.write(`${d.key}\n${describeDifference(d, [outcome.a, outcome.b]).map((line) => `  ${line}\n`).join('')}`);
  const more = outcome.differing > outcome.differences.length ? ` (first ${outcome.differences.length} shown)` : '';
  process.stderr.write(`verify ${outcome.a} vs ${outcome.b}: ${outcome.keys.toLocaleString('en-US')} views, ${outcome.differing === 0 ? 'identical' : `${outcome.differing} differ${more}`}\n`);
  if (outcome.differing > 0) process.exitCode = 1;
}
