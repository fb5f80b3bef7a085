// The environment is read in one place (cli/config.ts); these check the rebuild's batch cap and hold
// budget, which reach every rebuild through processors/replay.ts rebuildBatching.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, rebuildTuning } from '../../cli/config.ts';
import { REBUILD_BATCHING, rebuildBatching } from '../../processors/replay.ts';

const NAME = 'DARKROOM_REBUILD_BATCH_EFFECTS';

describe('DARKROOM_REBUILD_BATCH_EFFECTS', () => {
  afterEach(() => { delete process.env[NAME]; });

  it('leaves the view store its default when unset or empty', () => {
    expect(loadConfig().rebuildBatchEffects).toBeUndefined();
    process.env[NAME] = '';
    expect(loadConfig().rebuildBatchEffects).toBeUndefined();
    expect(rebuildBatching('embedded', rebuildTuning(loadConfig()))).toEqual(REBUILD_BATCHING.embedded);
    expect(rebuildBatching('redis', rebuildTuning(loadConfig()))).toEqual(REBUILD_BATCHING.redis);
  });

  it('sets the effects per batch of a rebuild on either store, keeping its linger', () => {
    process.env[NAME] = '250000';
    expect(loadConfig().rebuildBatchEffects).toBe(250_000);
    const tuning = rebuildTuning(loadConfig());
    expect(rebuildBatching('embedded', tuning)).toEqual({ ...REBUILD_BATCHING.embedded, maxBatchEffects: 250_000 });
    expect(rebuildBatching('redis', tuning)).toEqual({ maxBatchEffects: 250_000 });
  });

  it('refuses what is not an integer of at least 1000, naming the variable', () => {
    for (const bad of ['lots', '1.5', '10']) {
      process.env[NAME] = bad;
      expect(() => loadConfig()).toThrow(ConfigError);
      expect(() => loadConfig()).toThrow(`${NAME} must be an integer >= 1000, got "${bad}"`);
    }
  });
});

describe('DARKROOM_REBUILD_HOLD_MB', () => {
  const HOLD = 'DARKROOM_REBUILD_HOLD_MB';
  afterEach(() => { delete process.env[HOLD]; });

  it('keeps the default budget when unset, sets another in MB, and turns holding off at 0', () => {
    expect(rebuildBatching('embedded', rebuildTuning(loadConfig())).holdBytes).toBe(REBUILD_BATCHING.embedded.holdBytes);
    process.env[HOLD] = '64';
    expect(rebuildBatching('embedded', rebuildTuning(loadConfig())).holdBytes).toBe(64 * 2 ** 20);
    expect(rebuildBatching('redis', rebuildTuning(loadConfig())).holdBytes).toBeUndefined();
    process.env[HOLD] = '0';
    expect(rebuildBatching('embedded', rebuildTuning(loadConfig())).holdBytes).toBeUndefined();
  });

  it('refuses what is not a non-negative integer', () => {
    process.env[HOLD] = '-1';
    expect(() => loadConfig()).toThrow(`${HOLD} must be an integer >= 0, got "-1"`);
  });
});
