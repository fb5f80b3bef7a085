import { loadConfig, type Config } from '../config.ts';
import { UserError } from '../errors.ts';
import { openAnalyticsStore, platformAnswers, requireDataDir } from '../platform.ts';

type Row = Record<string, unknown>;

/**
 * A running embedded platform owns its chDB data directory (one process per directory), so then the
 * query goes to that platform's admin route, which runs it through the same read-only guard.
 */
async function queryRunningPlatform(config: Config, query: string): Promise<Row[]> {
  if (!config.adminToken) {
    throw new UserError('the analytics store is in use by a running darkroom; set DARKROOM_ADMIN_TOKEN (for both) to query it through /v1/admin/sql');
  }
  const url = `http://127.0.0.1:${config.port}/v1/admin/sql`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${config.adminToken}` },
      body: JSON.stringify({ sql: query }),
    });
  } catch {
    throw new UserError(`the analytics store is locked by another process and no darkroom answers on port ${config.port}`);
  }
  const body = (await res.json().catch(() => ({}))) as { rows?: Row[]; error?: { message?: string } };
  if (!res.ok) throw new UserError(`query failed: ${body.error?.message ?? `HTTP ${res.status}`}`);
  return body.rows ?? [];
}

/** `darkroom sql "<SELECT ...>"`: one read-only query, rows printed as JSON lines. */
export async function sql(query: string): Promise<void> {
  const config = loadConfig();
  let rows: Row[];
  if (!config.clickhouseUrl && config.adminToken && (await platformAnswers(config.port))) {
    rows = await queryRunningPlatform(config, query);
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
    return;
  }
  if (!config.clickhouseUrl) requireDataDir(config);
  const store = await openAnalyticsStore(config).catch((error: Error) => {
    if (config.clickhouseUrl) throw error;
    return undefined; // chDB directory locked by a running platform
  });
  if (store) {
    try {
      rows = await store.query(query).catch((error: Error) => {
        // The store's own errors already say "query failed" or "query refused".
        const line = error.message.split('\n')[0];
        throw new UserError(/^query (failed|refused)/.test(line) ? line : `query failed: ${line}`);
      });
    } finally {
      await store.close();
    }
  } else {
    rows = await queryRunningPlatform(config, query);
  }
  for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
}
