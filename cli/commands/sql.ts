import { loadConfig } from '../config.ts';
import { UserError } from '../errors.ts';
import { openAnalyticsStore } from '../platform.ts';

/** `darkroom sql "<SELECT ...>"`: one read-only query, rows printed as JSON lines. */
export async function sql(query: string): Promise<void> {
  const store = await openAnalyticsStore(loadConfig());
  try {
    const rows = await store.query(query).catch((error: Error) => {
      throw new UserError(`query failed: ${error.message.split('\n')[0]}`);
    });
    for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
  } finally {
    await store.close();
  }
}
