// The environment is read in one place (cli/config.ts); these check the rebuild's batch cap, which
// reaches every rebuild through processors/replay/batching.ts rebuildBatching.
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../cli/config.ts';
import { REBUILD_BATCHING, rebuildBatching } from '../../processors/replay/index.ts';

const NAME = 'DARKROOM_REBUILD_BATCH_EFFECTS';

describe('DARKROOM_REBUILD_BATCH_EFFECTS', () => {
  afterEach(() => { delete process.env[NAME]; });

  it('leaves the view store its default when unset or empty', () => {
    expect(loadConfig().rebuildBatchEffects).toBeUndefined();
    process.env[NAME] = '';
    expect(loadConfig().rebuildBatchEffects).toBeUndefined();
    expect(rebuildBatching('embedded', undefined)).toEqual(REBUILD_BATCHING.embedded);
    expect(rebuildBatching('redis', undefined)).toEqual(REBUILD_BATCHING.redis);
  });

  it('sets the effects per batch of a rebuild on either store, keeping its linger', () => {
    process.env[NAME] = '250000';
    const cap = loadConfig().rebuildBatchEffects;
    expect(cap).toBe(250_000);
    expect(rebuildBatching('embedded', cap)).toEqual({ ...REBUILD_BATCHING.embedded, maxBatchEffects: 250_000 });
    expect(rebuildBatching('redis', cap)).toEqual({ maxBatchEffects: 250_000 });
  });

  it('refuses what is not an integer of at least 1000, naming the variable', () => {
    for (const bad of ['lots', '1.5', '10']) {
      process.env[NAME] = bad;
      expect(() => loadConfig()).toThrow(ConfigError);
      expect(() => loadConfig()).toThrow(`${NAME} must be an integer >= 1000, got "${bad}"`);
    }
  });
});
