// The analytics store: rows of the `events` table (schema.ts) into ClickHouse, through
// @clickhouse/client either to a server (CLICKHOUSE_URL) or to chDB in-process (default; data under
// <dataDir>/analytics). Same SQL, same client code.
//
// Exactly once: every row carries (topic, partition, offset) of the record it came from, and the
// resume point of a processor is derived from the rows themselves (max offset + 1 per topic-partition,
// read from the `resume_point` projection that each data part stores atomically with its rows). A
// batch re-sent after a crash is filtered against that point, so nothing is inserted twice; and since
// the point comes from the data, there is no moment where rows and offsets disagree.
//
// A batch is one INSERT. ClickHouse writes one part per day partition, so a batch whose rows cross
// midnight is cut into INSERTs at each change of day, in the batch's order: rows of each
// topic-partition arrive in offset order, so whatever a crash leaves behind is a prefix and the
// resume point stays exact.
import fs from 'node:fs';
import path from 'node:path';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Effect } from '../../processors/effects.ts';
import type { Sink } from '../../processors/runtime.ts';
import type { TopicPartitionOffset } from '../../topics/types.ts';
import { SinkError, SinkUnavailableError, redactUrl } from '../errors.ts';
import { EVENTS_COLUMNS, type EventsColumn, type EventsRow } from '../../processors/analytics/columns.ts';
import { EVENTS_DDL, EVENTS_TABLE, ROLLUPS, TIME_COLUMNS, rollupViewDdl } from './schema.ts';
import { assertReadOnlySql, ReadOnlyViolation } from './read-only.ts';

export type RowEffect = Extract<Effect, { kind: 'row' }>;

export interface AnalyticsBatch {
  processor: string;
  rows: RowEffect[];
}

export interface AnalyticsStore {
  readonly kind: 'chdb' | 'clickhouse';
  /** Inserts the rows not yet stored (by source offset); returns how many went in and how many were already there. */
  applyBatch(batch: AnalyticsBatch): Promise<{ inserted: number; skipped: number }>;
  /** Resume point of a processor: max stored offset + 1 per topic-partition. */
  offsets(processor: string): Promise<TopicPartitionOffset[]>;
  /** Runs one read-only query (readonly=1) and returns its rows as JSON objects, for `darkroom sql`. */
  query(sql: string, params?: Record<string, unknown>): Promise<Array<Record<string, unknown>>>;
  /** Recomputes every rollup from `events` (after a crash between a part and its views' parts). */
  rebuildRollups(): Promise<void>;
  close(): Promise<void>;
}

export interface AnalyticsStoreOptions {
  /** A ClickHouse server (http://user:pass@host:8123/db); chDB in-process when omitted. */
  url?: string;
  /** chDB keeps its data under <dataDir>/analytics. */
  dataDir: string;
}

const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** ClickHouse reads a decimal string of seconds into DateTime64(3) without guessing the unit. */
const clickhouseTime = (ms: number) => (ms / 1000).toFixed(3);

const DAY_MS = 86_400_000;

/**
 * An INSERT body holds one array per row, values in INSERT_COLUMNS' order: one JSON.stringify per
 * INSERT instead of one per row, no column names repeated per row, no intermediate object per row.
 * To a server it is one JSONCompact document (`meta` names the columns with their types); to chDB,
 * the same arrays as JSONCompactEachRow.
 */
const ROW_COLUMNS = Object.keys(EVENTS_COLUMNS) as EventsColumn[];
const INSERT_COLUMNS = [...ROW_COLUMNS, 'processor'];
const INSERT_META = [...ROW_COLUMNS.map((name) => ({ name, type: EVENTS_COLUMNS[name] as string })), { name: 'processor', type: 'LowCardinality(String)' }];
const IS_TIME = ROW_COLUMNS.map((column) => TIME_COLUMNS.includes(column));

function compactRow(row: EventsRow, processor: string): unknown[] {
  const out = new Array<unknown>(INSERT_COLUMNS.length);
  for (let i = 0; i < ROW_COLUMNS.length; i++) {
    const value = row[ROW_COLUMNS[i]];
    out[i] = IS_TIME[i] && typeof value === 'number' ? clickhouseTime(value) : value;
  }
  out[ROW_COLUMNS.length] = processor;
  return out;
}

function checkRow(effect: RowEffect, processor: string): EventsRow {
  if (effect.table !== EVENTS_TABLE) {
    throw new SinkError(`unknown analytics table "${effect.table}" in batch of ${processor} (known: ${EVENTS_TABLE})`);
  }
  const row = effect.row as unknown as EventsRow;
  if (typeof row.topic !== 'string' || !Number.isInteger(row.partition) || !Number.isInteger(row.offset) || row.offset < 0) {
    throw new SinkError(`analytics row of ${processor} lacks its source (topic, partition, offset): ${JSON.stringify(effect.row).slice(0, 200)}`);
  }
  if (typeof row.ts !== 'number' || !Number.isFinite(row.ts)) {
    throw new SinkError(`analytics row of ${processor} at ${row.topic}:${row.partition}@${row.offset} has no numeric ts`);
  }
  return row;
}

interface Connected {
  writer: ClickHouseClient;
  reader: ClickHouseClient;
  kind: 'chdb' | 'clickhouse';
  /**
   * chDB only: hands an INSERT body (JSONCompactEachRow) to the engine as bytes, without a copy. Through
   * the client, the body became one SQL string that the main thread copied into the engine (~5% of
   * a live run's main thread, bench/RESULTS.md).
   */
  insertRaw?: (body: Buffer) => Promise<void>;
}

async function connect(options: AnalyticsStoreOptions): Promise<Connected> {
  if (options.url) {
    const where = redactUrl(options.url);
    // Every failed request surfaces as an error to the caller (the runtime counts and retries it);
    // the client's own log would print each retry of an outage again, with a stack.
    const writer = createClient({ url: options.url, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
    const ping = await writer.ping();
    if (!ping.success) {
      await writer.close();
      const reason = String((ping as { error?: Error }).error?.message ?? 'no answer').split(options.url).join(where);
      throw new SinkUnavailableError(`cannot reach ClickHouse at ${where} (${reason.replace(/\s+/g, ' ')})`);
    }
    // The server applies readonly=1 per query (see query()); one client serves both roles.
    return { writer, reader: writer, kind: 'clickhouse' };
  }
  const dir = path.join(options.dataDir, 'analytics');
  fs.mkdirSync(dir, { recursive: true });
  const { createChdbConnection } = await import('chdb/connection');
  // chDB applies settings to its session: the reader is a second session on the same data, made
  // read-only once (a session cannot leave readonly=1), the writer stays writable.
  const writing = createChdbConnection({ path: dir });
  const writer = createClient({ connection: writing } as Parameters<typeof createClient>[0]);
  const reader = createClient({ connection: createChdbConnection({ path: dir }) } as Parameters<typeof createClient>[0]);
  await reader.command({ query: 'SET readonly = 1' });
  const insertRaw = async (body: Buffer) => {
    await writing.chdb.rawInsert({ table: EVENTS_TABLE, columns: INSERT_COLUMNS, values: body, format: 'JSONCompactEachRow' });
  };
  return { writer, reader, kind: 'chdb', insertRaw };
}

export async function createAnalyticsStore(options: AnalyticsStoreOptions): Promise<AnalyticsStore> {
  const { writer, reader, kind, insertRaw } = await connect(options);
  await writer.command({ query: EVENTS_DDL });
  for (const rollup of ROLLUPS) {
    await writer.command({ query: rollup.ddl });
    await writer.command({ query: rollupViewDdl(rollup) });
  }

  /** Per processor: next offset per topic-partition, loaded from the data once, then kept in step. */
  const resume = new Map<string, Map<string, number>>();

  async function readResume(processor: string): Promise<Map<string, number>> {
    const rows = await (await writer.query({
      query: `SELECT topic, partition, max(offset) + 1 AS next FROM ${EVENTS_TABLE} WHERE processor = {processor:String} GROUP BY topic, partition`,
      query_params: { processor },
      format: 'JSONEachRow',
    })).json<{ topic: string; partition: number; next: number | string }>();
    return new Map(rows.map((r) => [tpKey(r.topic, Number(r.partition)), Number(r.next)]));
  }

  async function resumeOf(processor: string): Promise<Map<string, number>> {
    let held = resume.get(processor);
    if (!held) resume.set(processor, (held = await readResume(processor)));
    return held;
  }

  async function insert(values: unknown[][]): Promise<void> {
    // JSONCompactEachRow takes rows separated by commas: one JSON.stringify for the batch, not one per row.
    if (insertRaw) return insertRaw(Buffer.from(JSON.stringify(values).slice(1, -1)));
    await writer.insert({ table: EVENTS_TABLE, values: { meta: INSERT_META, data: values }, format: 'JSONCompact', columns: INSERT_COLUMNS as [string, ...string[]] });
  }

  const store: AnalyticsStore = {
    kind,

    async applyBatch({ processor, rows }) {
      const checked = rows.map((r) => checkRow(r, processor));
      const held = await resumeOf(processor);
      const fresh = checked.filter((r) => r.offset >= (held.get(tpKey(r.topic, r.partition)) ?? 0));
      // Cut at each change of day (one part per INSERT), keeping the batch's order.
      let chunk: unknown[][] = [];
      let chunkStart = 0;
      let day = NaN;
      const flush = async (end: number) => {
        if (!chunk.length) return;
        await insert(chunk);
        for (let i = chunkStart; i < end; i++) {
          const r = fresh[i];
          const key = tpKey(r.topic, r.partition);
          if (r.offset + 1 > (held.get(key) ?? 0)) held.set(key, r.offset + 1);
        }
        chunk = [];
        chunkStart = end;
      };
      try {
        for (let i = 0; i < fresh.length; i++) {
          const r = fresh[i];
          const rowDay = Math.floor(r.ts / DAY_MS); // the UTC day, as PARTITION BY toDate(ts)
          if (rowDay !== day) { await flush(i); day = rowDay; }
          chunk.push(compactRow(r, processor));
        }
        await flush(fresh.length);
      } catch (error) {
        // What went in is unknown only if the INSERT itself failed half-way: re-read from the data.
        resume.delete(processor);
        throw new SinkError(`analytics insert of ${processor} failed: ${(error as Error).message.split('\n')[0]}`);
      }
      return { inserted: fresh.length, skipped: checked.length - fresh.length };
    },

    async offsets(processor) {
      const held = await readResume(processor);
      resume.set(processor, held);
      return [...held].map(([key, offset]) => {
        const cut = key.lastIndexOf(':');
        return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset };
      }).sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    },

    async query(sql, params) {
      const text = sql.trim().replace(/;+\s*$/, '');
      if (!text) throw new SinkError('empty query');
      // Second wall after readonly=1: no writes, no files, URLs or other servers (read-only.ts).
      try { assertReadOnlySql(text); } catch (error) {
        if (error instanceof ReadOnlyViolation) {
          throw new SinkError(`query refused: only reads are allowed (${error.message.replace(/^query refused: /, '')})`);
        }
        throw error;
      }
      try {
        const result = await reader.query({
          query: text,
          format: 'JSONEachRow',
          query_params: params,
          clickhouse_settings: kind === 'clickhouse' ? { readonly: '1' } : undefined,
        });
        return await result.json<Record<string, unknown>>();
      } catch (error) {
        const message = (error as Error).message.split('\n')[0].replace(/^default: /, '');
        throw new SinkError(/readonly/i.test(message) ? `query refused: only reads are allowed (${message.trim()})` : `query failed: ${message.trim()}`);
      }
    },

    async rebuildRollups() {
      for (const rollup of ROLLUPS) {
        await writer.command({ query: `TRUNCATE TABLE ${rollup.table}` });
        await writer.command({ query: `INSERT INTO ${rollup.table} ${rollup.select}` });
      }
    },

    async close() {
      if (reader !== writer) await reader.close();
      await writer.close();
    },
  };
  return store;
}

/** Adapts the analytics store to the runtime's Sink: keeps `row` effects, resumes from the rows. */
export function analyticsSink(store: AnalyticsStore, processor: string): Sink {
  return {
    name: `${store.kind}-analytics:${processor}`,
    offsets: () => store.offsets(processor),
    apply: async (effects) => {
      await store.applyBatch({ processor, rows: effects.filter((e): e is RowEffect => e.kind === 'row') });
    },
  };
}
