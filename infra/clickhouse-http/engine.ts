// The ClickHouse engine behind the HTTP adapter: chDB (ClickHouse compiled as a library) on one data
// directory. Nothing here imitates ClickHouse; every query, setting and error comes from the engine.
//
// Sessions, the way the HTTP interface scopes state:
// - An *anchor* session opens the data directory for the life of the process (chDB binds one data
//   directory per process; further sessions on it are cheap, ~1 ms).
// - A request without `session_id` runs in a fresh session, closed afterwards: its settings, query
//   parameters, `USE` and any `SET` it sends end with it, as on a server where URL settings apply to
//   one query. (Were they applied to a shared session, one `SET readonly = 1` would lock every later
//   request, and an `insert_deduplication_token` would leak into the next insert.)
// - A request with `session_id` runs in that named session, kept until `session_timeout` passes
//   idle; one request at a time, like the server (SESSION_IS_LOCKED otherwise).
import { Session } from 'chdb';

export interface EngineError { code: number; type: string; message: string }

/** A ClickHouse exception: `Code: N. DB::Exception: <message> (TYPE)`. */
export class ClickHouseException extends Error {
  constructor(readonly code: number, readonly type: string, message: string) { super(message); }
}

const EXCEPTION = /Code: (\d+)\. DB::Exception: (.*?)(?: \(([A-Z0-9_]{3,})\))?(?: \(version [^)]*\))?\.?\s*$/s;

/** The engine's error, with its code and type when it carries them. */
export function asException(error: unknown): ClickHouseException {
  if (error instanceof ClickHouseException) return error;
  const text = error instanceof Error ? error.message : String(error);
  // chDB sometimes nests the same exception twice ("Code: 108. DB::Exception: Code: 108. ..."): keep the innermost.
  const inner = text.slice(text.lastIndexOf('Code: ') >= 0 ? text.lastIndexOf('Code: ') : 0);
  const match = EXCEPTION.exec(inner);
  if (match) return new ClickHouseException(Number(match[1]), match[3] ?? 'UNKNOWN_EXCEPTION', match[2].replace(/\s+$/, ''));
  return new ClickHouseException(1001, 'STD_EXCEPTION', text);
}

export interface RunOptions {
  /** Statements to run first in the request's session: `USE db`, `SET x = 'v'`, `SET param_p = 'v'`. */
  prelude: string[];
  /** Output format when the query names none (`default_format`). */
  format: string;
  /** `session_id`, or undefined for a one-request session. */
  sessionId?: string;
  sessionTimeoutS?: number;
  /** `session_check=1`: the named session must exist already. */
  sessionCheck?: boolean;
}

export interface RunResult {
  body: Buffer;
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
  elapsedNs: number;
}

interface NamedSession { session: Session; busy: boolean; timer?: NodeJS.Timeout; timeoutS: number }

const IS_INSERT = /^(?:\s+|--[^\n]*\n|\/\*[\s\S]*?\*\/)*INSERT\b/i;

export interface Engine {
  readonly version: string;
  readonly timezone: string;
  run(query: string, options: RunOptions): Promise<RunResult>;
  close(): void;
}

export async function openEngine(dataDir: string): Promise<Engine> {
  const anchor = new Session(dataDir);
  const info = (await anchor.queryAsync('SELECT version(), timezone()', { format: 'TabSeparated' })).text().trim().split('\t');
  const [version, timezone] = info;
  const named = new Map<string, NamedSession>();
  /** Inserts run one at a time, so the engine's InsertedRows counter tells what each one wrote. */
  let insertQueue: Promise<unknown> = Promise.resolve();

  async function insertedCounters(session: Session): Promise<{ rows: number; bytes: number }> {
    const text = (await session.queryAsync(
      "SELECT event, value FROM system.events WHERE event IN ('InsertedRows', 'InsertedBytes')", { format: 'TabSeparated' })).text();
    const values = new Map(text.trim().split('\n').filter(Boolean).map((line) => line.split('\t') as [string, string]));
    return { rows: Number(values.get('InsertedRows') ?? 0), bytes: Number(values.get('InsertedBytes') ?? 0) };
  }

  async function execute(session: Session, query: string, options: RunOptions): Promise<RunResult> {
    for (const statement of options.prelude) await session.queryAsync(statement);
    const go = async (): Promise<RunResult> => {
      const insert = IS_INSERT.test(query);
      const before = insert ? await insertedCounters(session) : undefined;
      const result = await session.queryAsync(query, { format: options.format });
      const after = before ? await insertedCounters(session) : undefined;
      return {
        body: Buffer.from(result.bytes()),
        readRows: result.rowsRead, readBytes: result.bytesRead,
        writtenRows: after && before ? after.rows - before.rows : 0,
        writtenBytes: after && before ? after.bytes - before.bytes : 0,
        elapsedNs: Math.round(result.elapsed * 1e9),
      };
    };
    if (!IS_INSERT.test(query)) return go();
    const turn = insertQueue.then(go, go);
    insertQueue = turn.catch(() => undefined);
    return turn;
  }

  function expire(id: string, entry: NamedSession): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      if (named.get(id) !== entry || entry.busy) return;
      named.delete(id);
      entry.session.close();
    }, entry.timeoutS * 1000);
    entry.timer.unref();
  }

  return {
    version,
    timezone,
    async run(query, options) {
      try {
        if (options.sessionId === undefined) {
          const session = new Session(dataDir);
          try { return await execute(session, query, options); } finally { session.close(); }
        }
        const id = options.sessionId;
        let entry = named.get(id);
        if (!entry) {
          if (options.sessionCheck) throw new ClickHouseException(372, 'SESSION_NOT_FOUND', `Session ${id} not found`);
          entry = { session: new Session(dataDir), busy: false, timeoutS: options.sessionTimeoutS ?? 60 };
          named.set(id, entry);
        }
        if (entry.busy) throw new ClickHouseException(373, 'SESSION_IS_LOCKED', `Session ${id} is locked by a concurrent client`);
        if (options.sessionTimeoutS !== undefined) entry.timeoutS = options.sessionTimeoutS;
        entry.busy = true;
        try { return await execute(entry.session, query, options); } finally {
          entry.busy = false;
          expire(id, entry);
        }
      } catch (error) {
        throw asException(error);
      }
    },
    close() {
      for (const entry of named.values()) { clearTimeout(entry.timer); entry.session.close(); }
      named.clear();
      anchor.close();
    },
  };
}
