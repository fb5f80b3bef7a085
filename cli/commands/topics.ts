// `darkroom topics`: the topic catalog with its record counts and the retention each topic has now
// (as stored; a tool's own DARKROOM_LOG_RETENTION_MS never changes it, see openBackbone).
import { loadConfig } from '../config.ts';
import { openBackbone } from '../platform.ts';
import { buildTopology } from '../../processors/topology.ts';
import { topicCatalog } from '../../topics/catalog.ts';
import type { TopicRetention } from '../../topics/types.ts';

const UNITS: Array<[number, string]> = [[86_400_000, 'd'], [3_600_000, 'h'], [60_000, 'min'], [1_000, 's'], [1, 'ms']];
const BYTES: Array<[number, string]> = [[2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB'], [1, 'B']];

/** 2000 → "2 s", 604800000 → "7 d": the largest unit that divides it, else one decimal of the largest below. */
function amount(value: number, units: Array<[number, string]>): string {
  const [size, unit] = units.find(([u]) => value >= u) ?? units[units.length - 1];
  const n = value / size;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} ${unit}`;
}

export function describeRetention(r: TopicRetention): string {
  if (r.compacted) return 'compacted';
  const limits = [r.ms >= 0 ? amount(r.ms, UNITS) : '', r.bytes >= 0 ? `${amount(r.bytes, BYTES)} per partition` : ''].filter(Boolean);
  return limits.length ? limits.join(', ') : 'forever';
}

export async function topics(): Promise<void> {
  const config = loadConfig();
  const backbone = await openBackbone(config);
  try {
    const rows: string[][] = [['topic', 'key', 'partitions', 'records', 'retention']];
    // The processors' internal topics too: what a replay reads, and where copies would show.
    const internal = buildTopology(config).internalTopics;
    for (const spec of [...topicCatalog(config.partitions, { ms: config.logRetentionMs, bytes: config.logRetentionBytes }), ...internal]) {
      const { backend } = backbone;
      const read = await Promise.all([backend.startOffsets(spec.name), backend.endOffsets(spec.name), backend.retention(spec.name)])
        .catch((error: Error) => { if (internal.includes(spec)) return undefined; throw error; }); // made by the first darkroom start
      if (read === undefined) continue;
      const [start, end, retention] = read;
      const records = end.reduce((sum, e, i) => sum + e.offset - (start[i]?.offset ?? 0), 0);
      rows.push([spec.name, spec.key, String(end.length), records.toLocaleString('en-US'), describeRetention(retention)]);
    }
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) process.stdout.write(`${row.map((cell, c) => (c === 2 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd()}\n`);
  } finally {
    await backbone.close();
  }
}
