// The guard in front of `darkroom sql` and POST /v1/admin/sql: only reads of the analytics tables.
//
// The engine's own `readonly=1` is the first wall (a read-only chDB session, the per-query setting on
// a server). This is the second, checked before a query reaches the engine, because readonly alone
// is not the whole story: on a server, table functions and `INTO OUTFILE` depend on its config; in
// chDB the engine runs inside darkroom's own process, with its file system and its network.
//
// Rules (conservative on purpose: a false refusal costs an analyst a rewrite, a false pass may cost
// /etc/passwd):
// - one statement; it starts with SELECT, WITH, SHOW, DESCRIBE/DESC, EXPLAIN or EXISTS;
// - no word of a write, DDL, session or system statement anywhere (INSERT, ALTER, SET, SYSTEM, INTO...);
// - no call of a function that reaches files, URLs, other servers or programs (file(...), url(...),
//   s3(...), remote(...), mysql(...), executable(...), ...), whatever the case and whether quoted;
// - words inside string literals and comments do not count: `WHERE caption LIKE '%insert%'` is fine.

export class ReadOnlyViolation extends Error {
  override name = 'ReadOnlyViolation';
}

const FIRST_WORDS = new Set(['select', 'with', 'show', 'describe', 'desc', 'explain', 'exists']);

/** Words that only appear in statements that write, change the session or reach outside. */
const FORBIDDEN_WORDS = new Set([
  'insert', 'alter', 'create', 'drop', 'truncate', 'rename', 'exchange', 'attach', 'detach', 'undrop',
  'optimize', 'system', 'set', 'use', 'grant', 'revoke', 'kill', 'delete', 'update',
  'backup', 'restore', 'move', 'into', 'outfile', 'infile',
]);

/** Functions (table or scalar) that read or write outside the analytics tables. */
const OUTSIDE_FUNCTIONS = new Set([
  'file', 'filecluster', 'url', 'urlcluster', 's3', 's3cluster', 'gcs', 'oss', 'cosn', 'hdfs', 'hdfscluster',
  'azureblobstorage', 'azureblobstoragecluster', 'remote', 'remotesecure', 'cluster', 'clusterallreplicas',
  'mysql', 'postgresql', 'mongodb', 'redis', 'sqlite', 'jdbc', 'odbc', 'executable', 'executablepool', 'input',
  'hive', 'iceberg', 'deltalake', 'hudi', 'paimon', 'arrowflight', 'ytsaurus', 'dictionary', 'prometheusquery', 'timeseriesdata', 'timeseriesmetrics', 'timeseriestags',
]);
/** Families with many spellings: icebergS3, deltaLakeAzure, s3Cluster, hudiCluster... */
const OUTSIDE_PREFIXES = ['iceberg', 'deltalake', 'hudi', 'paimon', 's3', 'hdfs', 'azure', 'remote', 'url', 'file'];

const isOutsideFunction = (name: string) =>
  OUTSIDE_FUNCTIONS.has(name) || OUTSIDE_PREFIXES.some((p) => name.startsWith(p) && /(cluster|secure|s3|azure|hdfs|local|gcs)$/.test(name));

interface Token { kind: 'word' | 'quoted' | 'symbol'; text: string }

/** Splits SQL into words, quoted identifiers and symbols; string literals and comments are dropped. */
function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  const skipQuoted = (quote: string): string => {
    // ClickHouse: a quote inside is doubled ('') or backslash-escaped (\').
    let out = '';
    i++;
    while (i < n) {
      const c = sql[i];
      if (c === '\\') { out += sql[i + 1] ?? ''; i += 2; continue; }
      if (c === quote) {
        if (sql[i + 1] === quote) { out += quote; i += 2; continue; }
        i++;
        return out;
      }
      out += c;
      i++;
    }
    throw new ReadOnlyViolation(`query refused: unterminated ${quote === "'" ? 'string' : 'quoted identifier'}`);
  };
  while (i < n) {
    const c = sql[i];
    if (/\s/.test(c)) { i++; continue; }
    if ((c === '-' && sql[i + 1] === '-') || c === '#') { while (i < n && sql[i] !== '\n') i++; continue; }
    if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      if (end < 0) throw new ReadOnlyViolation('query refused: unterminated comment');
      i = end + 2;
      continue;
    }
    if (c === "'") { skipQuoted("'"); tokens.push({ kind: 'symbol', text: "''" }); continue; }
    if (c === '"' || c === '`') { tokens.push({ kind: 'quoted', text: skipQuoted(c) }); continue; }
    const word = /^[\p{L}_][\p{L}\p{N}_$]*/u.exec(sql.slice(i, i + 256));
    if (word) { tokens.push({ kind: 'word', text: word[0] }); i += word[0].length; continue; }
    tokens.push({ kind: 'symbol', text: c });
    i++;
  }
  return tokens;
}

/** Throws ReadOnlyViolation, with a one-line reason, unless `sql` is one read-only statement. */
export function assertReadOnlySql(sql: string): void {
  const tokens = tokenize(sql);
  while (tokens.length && tokens[tokens.length - 1].text === ';') tokens.pop();
  if (tokens.length === 0) throw new ReadOnlyViolation('query refused: empty query');
  if (tokens.some((t) => t.kind === 'symbol' && t.text === ';')) {
    throw new ReadOnlyViolation('query refused: one statement at a time');
  }
  const first = tokens[0];
  if (first.kind !== 'word' && !(first.kind === 'symbol' && first.text === '(')) {
    throw new ReadOnlyViolation('query refused: only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed');
  }
  if (first.kind === 'word' && !FIRST_WORDS.has(first.text.toLowerCase())) {
    throw new ReadOnlyViolation(`query refused: ${first.text.toUpperCase()} is not a read; only SELECT, WITH, SHOW, DESCRIBE, EXPLAIN and EXISTS are allowed`);
  }
  tokens.forEach((token, index) => {
    if (token.kind === 'symbol') return;
    const name = token.text.toLowerCase();
    if (token.kind === 'word' && FORBIDDEN_WORDS.has(name)) {
      throw new ReadOnlyViolation(`query refused: ${token.text.toUpperCase()} is not allowed in a read-only query`);
    }
    if (tokens[index + 1]?.text === '(' && isOutsideFunction(name)) {
      throw new ReadOnlyViolation(`query refused: ${token.text}() reaches files, URLs or other servers`);
    }
  });
}
