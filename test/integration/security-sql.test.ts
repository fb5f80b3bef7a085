// `darkroom sql` and POST /v1/admin/sql are read-only for real, on the real engine (chDB): no writes,
// no files, no URLs, no other servers; the admin route needs the admin token, not the API token.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnalyticsStore, type AnalyticsStore } from '../../sinks/analytics/analytics-store.ts';
import { createApp } from '../../serving/app.ts';
import { adminRouter } from '../../serving/admin.ts';
import { createMetrics } from '../../serving/metrics.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const data = tempDataDir();
let store: AnalyticsStore;
const servers: Server[] = [];
const API = 'api-token-1';
const ADMIN = 'admin-token-1';

async function serve(adminToken: string | undefined): Promise<string> {
  const app = createApp({
    metrics: createMetrics(), apiToken: API, adminToken, log: () => {}, ready: () => true,
    routes: [], adminRoutes: [adminRouter({ analytics: store })],
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const sql = (base: string, query: string, token = ADMIN) => fetch(`${base}/v1/admin/sql`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ sql: query }),
});

beforeAll(async () => { store = await createAnalyticsStore({ dataDir: data.dir }); });
afterAll(async () => {
  for (const s of servers) s.close();
  await store?.close();
  data.remove();
});

describe('read-only analytics queries on chDB', () => {
  it('reads work', async () => {
    expect(await store.query('SELECT count() AS n FROM events')).toEqual([{ n: 0 }]);
  });

  it.each([
    ["SELECT * FROM file('/etc/passwd', 'LineAsString')", /file\(\) reaches files/],
    ["SELECT * FROM url('http://127.0.0.1:1/', 'LineAsString')", /url\(\) reaches files/],
    ["SELECT * FROM remote('127.0.0.1:1', system.one)", /remote\(\) reaches/],
    ["SELECT * FROM executable('id', 'TSV', 'x String')", /executable\(\) reaches/],
    ["INSERT INTO events (topic, partition, offset) VALUES ('x', 0, 0)", /INSERT is not a read/],
    ['DROP TABLE events', /DROP is not a read/],
    // chDB's readonly=1 does NOT stop this one: without the guard the file is written.
    [`SELECT 1 INTO OUTFILE '${data.dir}/outfile'`, /INTO is not allowed/],
    ['SELECT 1; DROP TABLE events', /one statement/],
  ])('refuses %s before it reaches the engine', async (query, reason) => {
    await expect(store.query(query)).rejects.toThrow(reason);
  });

  it('left nothing behind: the table still has no rows, no outfile was written', async () => {
    expect(await store.query('SELECT count() AS n FROM events')).toEqual([{ n: 0 }]);
    const fs = await import('node:fs');
    expect(fs.existsSync(`${data.dir}/outfile`)).toBe(false);
  });
});

describe('POST /v1/admin/sql', () => {
  let base: string;
  beforeAll(async () => { base = await serve(ADMIN); });

  it('runs a read with the admin token', async () => {
    const res = await sql(base, 'SELECT count() AS n FROM events');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ rows: [{ n: 0 }] });
  });

  it('refuses a file read with 400 query_refused, and a write too', async () => {
    let res = await sql(base, "SELECT * FROM file('/etc/passwd', 'LineAsString')");
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('query_refused');
    expect(JSON.stringify(body)).not.toMatch(/root:/);
    res = await sql(base, "INSERT INTO events (topic) VALUES ('x')");
    expect(res.status).toBe(400);
  });

  it('the API token does not open admin routes; no token, a wrong one neither', async () => {
    expect((await sql(base, 'SELECT 1', API)).status).toBe(401);
    expect((await sql(base, 'SELECT 1', 'nope')).status).toBe(401);
    expect((await fetch(`${base}/v1/admin/sql`, { method: 'POST', body: '{"sql":"SELECT 1"}' })).status).toBe(401);
  });

  it('a malformed body is a 400 with a clear message', async () => {
    const res = await fetch(`${base}/v1/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: '{"query": 1}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/\{"sql"/);
  });

  it('without DARKROOM_ADMIN_TOKEN the admin routes are off (403), whatever token is sent', async () => {
    const off = await serve(undefined);
    const res = await sql(off, 'SELECT 1', API);
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/DARKROOM_ADMIN_TOKEN/);
  });
});
