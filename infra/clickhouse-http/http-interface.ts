// ClickHouse's HTTP interface, the part `@clickhouse/client` speaks, in front of the real engine
// (engine.ts). A protocol adapter: it turns a request into statements for the engine and the
// engine's answer into a response; it computes nothing itself.
//
// What a request may carry (https://clickhouse.com/docs/interfaces/http), and what happens to it:
//   query (URL) + body      the SQL is the URL's `query`, a newline, then the body (how an INSERT
//                           sends `INSERT ... FORMAT X` in the URL and its rows in the body)
//   database                `USE <database>` in the request's session
//   default_format          the output format when the query has no FORMAT clause (TabSeparated)
//   param_<name>            `SET param_<name> = '<value>'`: the engine parses the value as text of
//                           the placeholder's type, as the server does
//   session_id, session_timeout, session_check   a named engine session (engine.ts)
//   query_id                echoed in X-ClickHouse-Query-Id
//   enable_http_compression, http_zlib_compression_level   the response is gzip/deflate/br encoded
//                           when the client accepts it; request bodies may be gzip/deflate/br too
//   wait_end_of_query       honoured always: the engine's answer is complete before it is sent
//   user/password, Basic auth, X-ClickHouse-User/Key   only `default` without password exists here
//   any other parameter     a setting: `SET <name> = '<value>'` in the request's session, so the
//                           engine applies it to this query, or refuses it (UNKNOWN_SETTING)
// Refused, with an exception, rather than silently ignored: send_progress_in_http_headers=1,
// compress=1/decompress=1 (ClickHouse's native block compression), role, quota_key, multipart bodies.
// GET requests are read-only (readonly=2 unless the URL sets readonly), as on the server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import { ClickHouseException, asException, type Engine, type RunOptions } from './engine.ts';

/** Settings of the HTTP layer itself: handled here, never passed to the engine. */
const HTTP_LAYER = new Set([
  'enable_http_compression', 'http_zlib_compression_level', 'wait_end_of_query',
  'send_progress_in_http_headers', 'http_headers_progress_interval_ms', 'compress', 'decompress',
]);
const PROTOCOL = new Set(['query', 'query_id', 'database', 'default_format', 'session_id', 'session_timeout', 'session_check', 'user', 'password']);
const REFUSED = new Set(['role', 'quota_key']);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A string literal of ClickHouse SQL. */
const literal = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const identifier = (name: string) => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

const notSupported = (what: string) =>
  new ClickHouseException(48, 'NOT_IMPLEMENTED', `${what} is not supported by this HTTP adapter over chDB (infra/clickhouse-http)`);

/** The FORMAT a query ends with (the client appends one), or the default. */
function outputFormat(query: string, fallback: string): string {
  return /\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$/i.exec(query)?.[1] ?? fallback;
}

function contentType(format: string): string {
  if (/^JSON/i.test(format)) return 'application/json; charset=UTF-8';
  if (/^(TabSeparated|TSV)/i.test(format)) return 'text/tab-separated-values; charset=UTF-8';
  if (/^CSV/i.test(format)) return 'text/csv; charset=UTF-8';
  return 'text/plain; charset=UTF-8';
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // An aborted upload throws here: a cut INSERT is never run with half its rows.
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const encoding = String(req.headers['content-encoding'] ?? '').toLowerCase();
  if (!encoding || encoding === 'identity') return raw;
  if (encoding === 'gzip') return zlib.gunzipSync(raw);
  if (encoding === 'deflate') return zlib.inflateSync(raw);
  if (encoding === 'br') return zlib.brotliDecompressSync(raw);
  throw notSupported(`Content-Encoding: ${encoding}`);
}

function credentials(req: IncomingMessage, url: URL): { user: string; password: string } {
  const basic = /^Basic\s+(.+)$/i.exec(String(req.headers.authorization ?? ''));
  if (basic) {
    const text = Buffer.from(basic[1], 'base64').toString('utf8');
    const cut = text.indexOf(':');
    return { user: cut < 0 ? text : text.slice(0, cut), password: cut < 0 ? '' : text.slice(cut + 1) };
  }
  return {
    user: String(req.headers['x-clickhouse-user'] ?? url.searchParams.get('user') ?? 'default'),
    password: String(req.headers['x-clickhouse-key'] ?? url.searchParams.get('password') ?? ''),
  };
}

interface Plan { query: string; run: RunOptions; compression?: { encoding: 'gzip' | 'deflate' | 'br'; level?: number } }

function plan(req: IncomingMessage, url: URL, body: Buffer): Plan {
  const params = url.searchParams;
  const prelude: string[] = [];
  const settings: Array<[string, string]> = [];
  let compress = false;
  let level: number | undefined;
  for (const [key, value] of params) {
    if (PROTOCOL.has(key)) continue;
    if (REFUSED.has(key)) { if (value !== '') throw notSupported(`the "${key}" parameter`); continue; }
    if (key.startsWith('param_')) {
      if (!NAME.test(key)) throw new ClickHouseException(36, 'BAD_ARGUMENTS', `invalid query parameter name "${key}"`);
      prelude.push(`SET ${key} = ${literal(value)}`);
      continue;
    }
    if (HTTP_LAYER.has(key)) {
      const on = value !== '' && value !== '0' && value.toLowerCase() !== 'false';
      if (key === 'enable_http_compression') compress = on;
      else if (key === 'http_zlib_compression_level') level = Number(value);
      else if (on && ['send_progress_in_http_headers', 'compress', 'decompress'].includes(key)) throw notSupported(`${key}=1`);
      continue; // wait_end_of_query: always; progress interval: no progress headers are sent
    }
    if (!NAME.test(key)) throw new ClickHouseException(115, 'UNKNOWN_SETTING', `Unknown setting '${key}'`);
    settings.push([key, value]);
  }
  if (req.method === 'GET' && !params.has('readonly')) settings.unshift(['readonly', '2']);
  const database = params.get('database') ?? String(req.headers['x-clickhouse-database'] ?? '');
  if (database && database !== 'default') prelude.unshift(`USE ${identifier(database)}`);
  // `readonly` last: the server checks the URL's settings against the user's profile, not against
  // a readonly=1 in the same URL, so readonly=1 with other settings is accepted; in the engine, a
  // session in readonly=1 refuses every later SET (query parameters included).
  settings.sort(([a], [b]) => Number(a === 'readonly') - Number(b === 'readonly'));
  prelude.push(...settings.map(([key, value]) => `SET ${key} = ${literal(value)}`));

  if (/^multipart\/form-data/i.test(String(req.headers['content-type'] ?? ''))) throw notSupported('a multipart/form-data body');
  const urlQuery = params.get('query') ?? '';
  const text = body.length ? body.toString('utf8') : '';
  const query = urlQuery && text ? `${urlQuery}\n${text}` : urlQuery || text;
  if (!query.trim()) throw new ClickHouseException(62, 'SYNTAX_ERROR', 'Empty query');

  const sessionTimeout = params.get('session_timeout');
  let compression: Plan['compression'];
  if (compress) {
    const accepted = String(req.headers['accept-encoding'] ?? '').toLowerCase().split(',').map((s) => s.trim().split(';')[0]);
    const encoding = (['gzip', 'deflate', 'br'] as const).find((e) => accepted.includes(e));
    if (encoding) compression = { encoding, level: Number.isInteger(level) ? level : undefined };
  }
  return {
    query,
    compression,
    run: {
      prelude,
      format: params.get('default_format') ?? 'TabSeparated',
      sessionId: params.get('session_id') ?? undefined,
      sessionTimeoutS: sessionTimeout ? Number(sessionTimeout) : undefined,
      sessionCheck: params.get('session_check') === '1',
    },
  };
}

function encode(body: Buffer, compression: Plan['compression']): Buffer {
  if (!compression) return body;
  const level = compression.level;
  if (compression.encoding === 'gzip') return zlib.gzipSync(body, level === undefined ? {} : { level });
  if (compression.encoding === 'deflate') return zlib.deflateSync(body, level === undefined ? {} : { level });
  return zlib.brotliCompressSync(body);
}

export interface HandlerOptions {
  engine: Engine;
  log?: (line: string) => void;
}

/** The request handler of the adapter's HTTP server. */
export function clickhouseHttpHandler({ engine, log = () => {} }: HandlerOptions) {
  const base = { 'X-ClickHouse-Server-Display-Name': 'chdb-http', 'X-ClickHouse-Timezone': engine.timezone };

  function fail(res: ServerResponse, queryId: string, error: unknown, status = 500): void {
    const e = asException(error);
    const message = /[.!?]$/.test(e.message) ? e.message : `${e.message}.`;
    const text = `Code: ${e.code}. DB::Exception: ${message} (${e.type}) (version ${engine.version})\n`;
    log(`query ${queryId} failed: ${text.trim()}`);
    if (res.headersSent) { res.destroy(); return; }
    res.writeHead(status, {
      ...base, 'Content-Type': 'text/plain; charset=UTF-8', 'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Exception-Code': String(e.code),
    });
    res.end(text);
  }

  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://adapter');
    const queryId = url.searchParams.get('query_id') || randomUUID();
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if ((path === '/ping' || path === '/replicas_status') && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end('Ok.\n');
      return;
    }
    if (path !== '/' || (req.method !== 'GET' && req.method !== 'POST')) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end(`There is no handle ${url.pathname} (${req.method})\n`);
      return;
    }
    if (req.method === 'GET' && !url.searchParams.has('query')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=UTF-8' });
      res.end('Ok.\n');
      return;
    }
    const { user, password } = credentials(req, url);
    if (user !== 'default' || password !== '') {
      fail(res, queryId, new ClickHouseException(516, 'AUTHENTICATION_FAILED',
        `${user}: Authentication failed: password is incorrect, or there is no user with such name (this adapter has only "default" without password)`), 403);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (req.destroyed || (error as NodeJS.ErrnoException).code === 'ECONNRESET') return; // the client went away
      fail(res, queryId, error);
      return;
    }
    try {
      const { query, run, compression } = plan(req, url, body);
      const result = await engine.run(query, run);
      const format = outputFormat(query, run.format);
      const payload = encode(result.body, compression);
      res.writeHead(200, {
        ...base,
        'Content-Type': contentType(format),
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Format': format,
        ...(run.sessionId ? { 'X-ClickHouse-Session-Id': run.sessionId } : {}),
        ...(compression ? { 'Content-Encoding': compression.encoding } : {}),
        // result_rows is not reported: chDB does not count the rows of a result.
        'X-ClickHouse-Summary': JSON.stringify({
          read_rows: String(result.readRows), read_bytes: String(result.readBytes),
          written_rows: String(result.writtenRows), written_bytes: String(result.writtenBytes),
          total_rows_to_read: '0', result_bytes: String(result.body.length), elapsed_ns: String(result.elapsedNs),
        }),
      });
      res.end(payload);
    } catch (error) {
      fail(res, queryId, error);
    }
  };
}
