// The analyst queries the README shows are the ones the scenario suites run and check on chDB.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ANALYST_QUERIES } from '../../sinks/analytics/schema.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Analytics'), readme.indexOf('\n## ', readme.indexOf('## Analytics') + 1));
const shown = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1].trim());

describe('README analyst queries', () => {
  it('shows every analyst query, exactly as the code runs it', () => {
    expect(shown).toEqual(Object.values(ANALYST_QUERIES).map((q) => q.trim()));
  });
});
