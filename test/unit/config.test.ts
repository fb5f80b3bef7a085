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

describe('URLs and the port', () => {
  const names = ['REDIS_URL', 'SCHEMA_REGISTRY_URL', 'PORT'];
  afterEach(() => { for (const name of names) delete process.env[name]; });

  it('refuses a Redis or registry URL without its scheme, hiding credentials', () => {
    process.env.REDIS_URL = '127.0.0.1:6379';
    expect(() => loadConfig()).toThrow('REDIS_URL must be a URL starting with redis:// or rediss://, got "127.0.0.1:6379"');
    process.env.REDIS_URL = 'http://user:secret@127.0.0.1:6379';
    expect(() => loadConfig()).toThrow('REDIS_URL must be a URL starting with redis:// or rediss://, got "http://***@127.0.0.1:6379"');
    process.env.REDIS_URL = 'rediss://127.0.0.1:6379/3';
    expect(loadConfig().redisUrl).toBe('rediss://127.0.0.1:6379/3');
    for (const database of ['abc', '8x']) {
      process.env.REDIS_URL = `redis://127.0.0.1:6379/${database}`;
      expect(() => loadConfig()).toThrow(`REDIS_URL must end with a database number or nothing (redis://host:6379/0), got "/${database}"`);
    }
    process.env.SCHEMA_REGISTRY_URL = 'registry:8081';
    expect(() => loadConfig()).toThrow(/^SCHEMA_REGISTRY_URL must be a URL starting with http:\/\/ or https:\/\//);
  });

  it('refuses a port above 65535', () => {
    process.env.PORT = '70000';
    expect(() => loadConfig()).toThrow('PORT must be an integer from 0 to 65535, got "70000"');
  });
});

describe('darkroom topics: retention as a person reads it', () => {
  it('names the unit and says forever or compacted', async () => {
    const { describeRetention } = await import('../../cli/commands/topics.ts');
    expect(describeRetention({ ms: -1, bytes: -1, compacted: false })).toBe('forever');
    expect(describeRetention({ ms: 2_000, bytes: -1, compacted: false })).toBe('2 s');
    expect(describeRetention({ ms: 7 * 86_400_000, bytes: 1_073_741_824, compacted: false })).toBe('7 d, 1 GiB per partition');
    expect(describeRetention({ ms: 90_000, bytes: -1, compacted: false })).toBe('1.5 min');
    expect(describeRetention({ ms: -1, bytes: -1, compacted: true })).toBe('compacted');
  });
});
