// The analytics store on a ClickHouse server over HTTP (CLICKHOUSE_URL): the same contract as on chDB
// (analytics-suite.ts), each run in a database of its own; then the HTTP interface itself, as
// @clickhouse/client and curl use it. Here the server is infra/clickhouse-http (the ClickHouse engine
// behind ClickHouse's HTTP protocol); TEST_CLICKHOUSE_URL points the suite at a real server instead.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith, SERVICES } from '../services.ts';
import { tempDataDir } from '../helpers/tmp.ts';
import { analyticsStoreSuite } from './analytics-suite.ts';

const base = SERVICES.clickhouse.replace(/\/+$/, '');
const database = `darkroom_test_${randomBytes(4).toString('hex')}`;
const data = tempDataDir();
let admin: ClickHouseClient;

describeWith(['clickhouse'], 'ClickHouse server over HTTP', () => {
  beforeAll(async () => {
    admin = createClient({ url: base });
    await admin.command({ query: `CREATE DATABASE ${database}` });
  });
  afterAll(async () => {
    await admin?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
    await admin?.close();
    data.remove();
  });

  analyticsStoreSuite('clickhouse', () => ({ url: `${base}/${database}`, dataDir: data.dir }));

  const post = (query: string, body = '', headers: Record<string, string> = {}) =>
    fetch(`${base}/?${new URLSearchParams({ database, ...(query ? { query } : {}) })}`, { method: 'POST', body, headers });

  it('answers /ping with "Ok." and names the query, its format and its counts in headers', async () => {
    expect(await (await fetch(`${base}/ping`)).text()).toBe('Ok.\n');
    const res = await fetch(`${base}/?query_id=q-123&default_format=JSONEachRow`, { method: 'POST', body: 'SELECT number FROM numbers(3)' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-clickhouse-query-id')).toBe('q-123');
    expect(res.headers.get('x-clickhouse-format')).toBe('JSONEachRow');
    expect(JSON.parse(res.headers.get('x-clickhouse-summary')!)).toMatchObject({ read_rows: '3' });
    expect(await res.text()).toBe('{"number":0}\n{"number":1}\n{"number":2}\n');
  });

  it('an INSERT takes its statement from the URL and its rows from the body; the summary counts them', async () => {
    await (await post('CREATE TABLE http_rows (n UInt32, s String) ENGINE = MergeTree ORDER BY n')).text();
    const res = await post('INSERT INTO http_rows FORMAT JSONEachRow', '{"n":1,"s":"a"}\n{"n":2,"s":"b\\tc"}\n');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.headers.get('x-clickhouse-summary')!)).toMatchObject({ written_rows: '2' });
    expect(await (await post('SELECT n, s FROM http_rows ORDER BY n FORMAT TSV')).text()).toBe('1\ta\n2\tb\\tc\n');
  });

  it('an upload cut half-way inserts nothing', async () => {
    await (await post('CREATE TABLE http_cut (n UInt32) ENGINE = MergeTree ORDER BY n')).text();
    const url = new URL(`${base}/?${new URLSearchParams({ database, query: 'INSERT INTO http_cut FORMAT JSONEachRow' })}`);
    await new Promise<void>((resolve) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-length': '1000' } });
      req.on('error', () => resolve());
      req.write('{"n":1}\n{"n":2}\n');
      setTimeout(() => { req.destroy(); resolve(); }, 300);
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(await (await post('SELECT count() FROM http_cut')).text()).toBe('0\n');
  });

  it('errors are ClickHouse exceptions: status 500, the code in a header, `Code: N. DB::Exception` text', async () => {
    const res = await post('SELECT nope FROM http_rows');
    expect(res.status).toBe(500);
    expect(res.headers.get('x-clickhouse-exception-code')).toBe('47');
    expect(await res.text()).toMatch(/^Code: 47\. DB::Exception: .*nope.* \(UNKNOWN_IDENTIFIER\) \(version [\d.]+\)\n$/s);
    // the client turns it into a ClickHouseError with code and type
    await expect(admin.query({ query: 'SELEC 1' })).rejects.toMatchObject({ code: '62', type: 'SYNTAX_ERROR' });
  });

  it('settings in the URL reach the engine for that query only; unknown ones are refused', async () => {
    const threads = async (settings: Record<string, string | number>) =>
      (await (await admin.query({ query: "SELECT getSetting('max_threads') AS n", format: 'JSONEachRow', clickhouse_settings: settings })).json<{ n: number }>())[0].n;
    expect(await threads({ max_threads: 3 })).toBe(3);
    expect(await threads({})).not.toBe(3);
    await expect(admin.query({ query: 'SELECT 1', clickhouse_settings: { no_such_setting_x: 1 } as never })).rejects.toMatchObject({ type: 'UNKNOWN_SETTING' });
    // readonly=1 is the engine's, not a filter here: it stops a write that no guard looked at
    await expect(admin.command({ query: `CREATE TABLE ${database}.ro (n UInt8) ENGINE = Memory`, clickhouse_settings: { readonly: '1' } }))
      .rejects.toMatchObject({ type: 'READONLY' });
    // and a GET is read-only, as on the server
    const get = await fetch(`${base}/?${new URLSearchParams({ query: `CREATE TABLE ${database}.ro (n UInt8) ENGINE = Memory` })}`);
    expect(get.status).toBe(500);
    expect(await get.text()).toMatch(/READONLY/);
  });

  it('query parameters are parsed by the engine as text of their type', async () => {
    const rows = await (await admin.query({
      query: 'SELECT {s:String} AS s, {a:Array(String)} AS a, {n:UInt16} AS n', format: 'JSONEachRow',
      query_params: { s: "tab\there 'quoted'", a: ['x', "y'z"], n: 513 },
    })).json();
    expect(rows).toEqual([{ s: "tab\there 'quoted'", a: ['x', "y'z"], n: 513 }]);
  });

  it('an insert_deduplication_token applies to its insert and does not leak into the next one', async () => {
    await admin.command({ query: `CREATE TABLE ${database}.dedup (n UInt32) ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100` });
    const insert = (token?: string) => admin.insert({
      table: `${database}.dedup`, values: [{ n: 1 }], format: 'JSONEachRow',
      clickhouse_settings: token ? { insert_deduplication_token: token } : {},
    });
    await insert('batch-1');
    await insert('batch-1'); // re-sent: dropped by the engine
    expect(await (await post('SELECT count() FROM dedup')).text()).toBe('1\n');
    await insert();          // no token: goes in (had batch-1's token leaked into it, it would be dropped)
    await insert('batch-2');
    expect(await (await post('SELECT count() FROM dedup')).text()).toBe('3\n');
  });

  it('session_id keeps a session (temporary tables, SET) across requests; others do not see it', async () => {
    const session = createClient({ url: base, session_id: `s-${randomBytes(4).toString('hex')}` });
    try {
      await session.command({ query: 'CREATE TEMPORARY TABLE tmp_s (n UInt8)' });
      await session.command({ query: 'INSERT INTO tmp_s VALUES (7)' });
      expect(await (await session.query({ query: 'SELECT n FROM tmp_s', format: 'JSONEachRow' })).json()).toEqual([{ n: 7 }]);
      await expect(admin.query({ query: 'SELECT n FROM tmp_s' })).rejects.toMatchObject({ type: 'UNKNOWN_TABLE' });
    } finally {
      await session.close();
    }
  });

  it('compressed requests and responses (gzip), as the client sends them when asked', async () => {
    const zipped = createClient({ url: `${base}/${database}`, compression: { request: true, response: true } });
    try {
      await zipped.insert({ table: 'http_rows', values: [{ n: 3, s: 'zip' }], format: 'JSONEachRow' });
      expect(await (await zipped.query({ query: 'SELECT s FROM http_rows WHERE n = 3', format: 'JSONEachRow' })).json()).toEqual([{ s: 'zip' }]);
    } finally {
      await zipped.close();
    }
  });

  it('what the adapter cannot do is refused, never ignored', async () => {
    const res = await fetch(`${base}/?${new URLSearchParams({ send_progress_in_http_headers: '1' })}`, { method: 'POST', body: 'SELECT 1' });
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/send_progress_in_http_headers=1 is not supported .*NOT_IMPLEMENTED/);
    const other = createClient({ url: base, username: 'darkroom', password: 'x' });
    try {
      await expect(other.query({ query: 'SELECT 1' })).rejects.toMatchObject({ type: 'AUTHENTICATION_FAILED' });
    } finally {
      await other.close();
    }
  });
});
