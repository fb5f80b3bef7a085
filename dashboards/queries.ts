// Reads what the Grafana dashboards and the Prometheus alert rules ask of darkroom, so tests can hold
// them against the real thing: every metric name against a running platform's /metrics, every SQL
// query against the real analytics schema (test/integration/deploy-*.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const DASHBOARDS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const GRAFANA_DIR = path.join(DASHBOARDS_DIR, 'grafana');

interface Target { refId?: string; expr?: string; rawSql?: string; datasource?: { type?: string; uid?: string } }
export interface Panel {
  id?: number; type: string; title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
export interface Dashboard { uid: string; title: string; panels: Panel[] }

export interface PanelQuery {
  dashboard: string;
  panel: string;
  datasourceUid: string;
  kind: 'promql' | 'sql';
  text: string;
}

export function loadDashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return fs.readdirSync(GRAFANA_DIR).filter((f) => f.endsWith('.json')).sort()
    .map((file) => ({ file, dashboard: JSON.parse(fs.readFileSync(path.join(GRAFANA_DIR, file), 'utf8')) as Dashboard }));
}

/** Every query of every panel (rows' nested panels included), with the datasource it runs on. */
export function dashboardQueries(): PanelQuery[] {
  const queries: PanelQuery[] = [];
  for (const { dashboard } of loadDashboards()) {
    const visit = (panel: Panel) => {
      for (const target of panel.targets ?? []) {
        const datasourceUid = target.datasource?.uid ?? panel.datasource?.uid ?? '';
        if (target.expr !== undefined) queries.push({ dashboard: dashboard.title, panel: panel.title, datasourceUid, kind: 'promql', text: target.expr });
        if (target.rawSql !== undefined) queries.push({ dashboard: dashboard.title, panel: panel.title, datasourceUid, kind: 'sql', text: target.rawSql });
      }
      for (const inner of panel.panels ?? []) visit(inner);
    };
    for (const panel of dashboard.panels) visit(panel);
  }
  return queries;
}

export interface AlertRule { alert: string; expr: string }

export function alertRules(): AlertRule[] {
  const file = parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return file.groups.flatMap((g) => g.rules);
}

/**
 * darkroom's own metric names in a PromQL expression. Prometheus' own series (`up`) and functions
 * are not darkroom's to provide, so only the `darkroom_` namespace is returned.
 */
export function metricNames(promql: string): string[] {
  return [...new Set(promql.match(/\bdarkroom_[a-z0-9_]+\b/g) ?? [])];
}

export interface TimeRange { from: Date; to: Date; intervalSeconds: number }

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const day = (d: Date) => d.toISOString().slice(0, 10);

/**
 * Replaces the macros of the Grafana ClickHouse data source with the plain SQL it sends for a given
 * time range, so the same text runs anywhere ClickHouse SQL runs (chDB in the tests). A macro this
 * does not know throws: a dashboard must not use one that nobody checked.
 */
export function expandClickHouseMacros(sql: string, range: TimeRange): string {
  const from = seconds(range.from), to = seconds(range.to), step = range.intervalSeconds;
  const expanded = sql
    .replace(/\$__timeFilter_ms\(([^)]+)\)/g, (_, c) => `${c.trim()} >= fromUnixTimestamp64Milli(${range.from.getTime()}) AND ${c.trim()} <= fromUnixTimestamp64Milli(${range.to.getTime()})`)
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_, c) => `${c.trim()} >= toDateTime(${from}) AND ${c.trim()} <= toDateTime(${to})`)
    .replace(/\$__dateFilter\(([^)]+)\)/g, (_, c) => `${c.trim()} >= toDate('${day(range.from)}') AND ${c.trim()} <= toDate('${day(range.to)}')`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_, c) => `toStartOfInterval(toDateTime(${c.trim()}), INTERVAL ${step} second)`)
    .replace(/\$__fromTime\b/g, `toDateTime(${from})`)
    .replace(/\$__toTime\b/g, `toDateTime(${to})`)
    .replace(/\$__interval_s\b/g, String(step));
  const unknown = expanded.match(/\$\{?\w+/);
  if (unknown) throw new Error(`unknown Grafana macro or variable ${unknown[0]} in: ${sql.split('\n')[0]}`);
  return expanded;
}
