import { loadConfig } from '../config.ts';
import { openBackbone } from '../platform.ts';
import { topicCatalog } from '../../topics/catalog.ts';

export async function topics(): Promise<void> {
  const config = loadConfig();
  const backbone = await openBackbone(config);
  try {
    const rows = [];
    for (const spec of topicCatalog(config.partitions, { ms: config.logRetentionMs, bytes: config.logRetentionBytes })) {
      const [start, end] = await Promise.all([backbone.backend.startOffsets(spec.name), backbone.backend.endOffsets(spec.name)]);
      const records = end.reduce((sum, e, i) => sum + e.offset - (start[i]?.offset ?? 0), 0);
      rows.push({
        topic: spec.name, key: spec.key, partitions: spec.partitions, records,
        retention: spec.compacted ? 'compacted' : spec.retentionMs < 0 ? 'forever' : `${spec.retentionMs / 3_600_000} h`,
      });
    }
    console.table(rows);
  } finally {
    await backbone.close();
  }
}
