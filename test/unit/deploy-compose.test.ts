// The deployment files hold together without Docker: docker-compose.yml validates (Debian's
// docker-compose when installed, and always our structural rules), every setting it gives darkroom is
// one cli/config.ts reads, the image carries every folder the CLI imports, and the Grafana/Prometheus
// files point at each other and at the compose services.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DASHBOARDS_DIR, dashboardQueries, loadDashboards } from '../../dashboards/queries.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string; build?: unknown; command?: string[] | string; environment?: Record<string, unknown>;
  depends_on?: Record<string, { condition: string }> | string[]; healthcheck?: { test?: unknown; disable?: boolean };
  ports?: string[]; volumes?: string[]; profiles?: string[]; container_name?: string;
}
interface Compose { services: Record<string, Service>; volumes?: Record<string, unknown> }

const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const services = compose.services;
const darkroomServices = Object.entries(services).filter(([, s]) => s.build !== undefined);
const dockerfile = read('Dockerfile');

/** The env names cli/config.ts reads: int('X', ...), str('X'), url('X', ...), process.env.X, process.env['X']. */
function configVariables(): Set<string> {
  const source = read('cli/config.ts');
  const names = new Set<string>();
  for (const m of source.matchAll(/\b(?:int|str|url)\(\s*'([A-Z0-9_]+)'/g)) names.add(m[1]);
  for (const m of source.matchAll(/process\.env(?:\.([A-Z0-9_]+)|\[\s*'([A-Z0-9_]+)'\s*\])/g)) names.add(m[1] ?? m[2]);
  return names;
}

/** Variables read by libraries darkroom runs on, not by darkroom: allowed in the image, nothing else. */
const LIBRARY_VARIABLES = new Set(['NODE_ENV']);

const commandOf = (s: Service) => (Array.isArray(s.command) ? s.command : String(s.command ?? '').split(/\s+/));

describe('docker-compose.yml', () => {
  // infra/install.sh installs Debian's docker-compose; under CI=true its absence is a failure, not a skip.
  const hasDockerCompose = process.env.CI === 'true' || spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;

  it.skipIf(!hasDockerCompose)('is valid for docker-compose, with and without the simulate profile', () => {
    for (const args of [['config', '-q'], ['--profile', 'simulate', 'config', '-q']]) {
      const run = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: ROOT, encoding: 'utf8' });
      expect(run.stderr, `docker-compose ${args.join(' ')}`).not.toMatch(/ERROR/);
      expect(run.status).toBe(0);
    }
  });

  it.skipIf(!hasDockerCompose)('the validator has teeth: a dependency on a missing service is refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-compose-'));
    try {
      const broken = read('docker-compose.yml').replace('      serve:\n        condition: service_healthy', '      servve:\n        condition: service_healthy');
      expect(broken).not.toBe(read('docker-compose.yml'));
      fs.writeFileSync(path.join(dir, 'docker-compose.yml'), broken);
      const run = spawnSync('docker-compose', ['-f', path.join(dir, 'docker-compose.yml'), 'config', '-q'], { encoding: 'utf8' });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toMatch(/servve/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the engines on pinned images, Kafka 3.9.1 in KRaft mode', () => {
    for (const name of ['kafka', 'schema-registry', 'redis', 'clickhouse', 'prometheus', 'grafana']) {
      const image = services[name]?.image;
      expect(image, `service ${name}`).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
    }
    expect(services.kafka.image).toBe('apache/kafka:3.9.1');
    expect(services['schema-registry'].image).toMatch(/^confluentinc\/cp-schema-registry:\d+\.\d+\.\d+$/);
    expect(services.kafka.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services.grafana.environment?.GF_INSTALL_PLUGINS).toMatch(/grafana-clickhouse-datasource/);
  });

  it('splits darkroom by role: serve, scalable processors, and a simulator under a profile', () => {
    expect(commandOf(services.serve)[0]).toBe('serve');
    expect(commandOf(services.processors)[0]).toBe('process');
    expect(commandOf(services.simulator)[0]).toBe('simulate');
    // Each is a real command of the CLI.
    const cli = read('cli/main.ts');
    for (const [, s] of darkroomServices) expect(cli).toContain(`program.command('${commandOf(s)[0]}')`);
    // `--scale processors=N` needs no fixed name and no host port.
    expect(services.processors.container_name).toBeUndefined();
    expect(services.processors.ports).toBeUndefined();
    expect(services.simulator.profiles).toEqual(['simulate']);
    // The simulator sends over HTTP to serve, on the port serve listens on.
    const sim = commandOf(services.simulator);
    expect(sim[sim.indexOf('--url') + 1]).toBe(`http://serve:${services.serve.environment?.PORT}`);
  });

  it('waits for healthy dependencies, and every dependency has a health check', () => {
    const imageHealthcheck = /^HEALTHCHECK\s/m.test(dockerfile);
    for (const [name, service] of Object.entries(services)) {
      const deps = service.depends_on ?? {};
      expect(Array.isArray(deps), `${name}: depends_on must name conditions`).toBe(false);
      for (const [dep, { condition }] of Object.entries(deps as Record<string, { condition: string }>)) {
        expect(services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe('service_healthy');
        const target = services[dep];
        const checked = target.healthcheck?.test !== undefined || (target.build !== undefined && imageHealthcheck && !target.healthcheck?.disable);
        expect(checked, `${dep} has no health check`).toBe(true);
      }
    }
    // The darkroom processes need every engine they are configured for.
    const needs = (s: string) => Object.keys(services[s].depends_on ?? {});
    expect(needs('serve')).toEqual(expect.arrayContaining(['kafka', 'schema-registry', 'redis']));
    expect([...needs('processors'), ...needs('serve')]).toEqual(expect.arrayContaining(['kafka', 'schema-registry', 'redis', 'clickhouse']));
  });

  it('keeps state in named volumes declared at the top level', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const name of ['kafka', 'redis', 'clickhouse', 'prometheus', 'grafana']) {
      const named = (services[name].volumes ?? []).map((v) => v.split(':')[0]).filter((v) => !v.startsWith('.') && !v.startsWith('/'));
      expect(named.length, `${name} has no named volume`).toBeGreaterThan(0);
      for (const v of named) expect(declared).toContain(v);
    }
    // Bind mounts point at files that exist.
    for (const [name, service] of Object.entries(services)) {
      for (const v of service.volumes ?? []) {
        const source = v.split(':')[0];
        if (source.startsWith('.')) expect(fs.existsSync(path.join(ROOT, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });

  it('gives darkroom exactly the settings cli/config.ts reads, and configures every engine', () => {
    const known = configVariables();
    expect(known).toContain('KAFKA_BROKERS'); // the parser itself works
    expect(darkroomServices.map(([n]) => n).sort()).toEqual(['processors', 'serve', 'simulator']);
    for (const [name, service] of darkroomServices) {
      const unknown = Object.keys(service.environment ?? {}).filter((v) => !known.has(v));
      expect(unknown, `${name} sets variables cli/config.ts does not read`).toEqual([]);
    }
    for (const name of ['serve', 'processors']) {
      const env = services[name].environment ?? {};
      for (const v of ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL', 'CLICKHOUSE_URL', 'PORT']) {
        expect(env[v], `${name}: ${v} unset means the embedded engine`).toBeTruthy();
      }
      expect(String(env.KAFKA_BROKERS).split(':')[0]).toBe('kafka');
      expect(new URL(String(env.REDIS_URL)).hostname).toBe('redis');
      expect(new URL(String(env.CLICKHOUSE_URL)).hostname).toBe('clickhouse');
      expect(new URL(String(env.SCHEMA_REGISTRY_URL)).hostname).toBe('schema-registry');
    }
    const imageEnv = [...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(imageEnv.length).toBeGreaterThan(0);
    expect(imageEnv.filter((v) => !known.has(v) && !LIBRARY_VARIABLES.has(v))).toEqual([]);
  });
});

describe('Dockerfile', () => {
  it('builds a small multi-stage production image that runs darkroom as a non-root user', () => {
    const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER (?!root)\w+$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\/healthz/ms);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["darkroom"\]$/m);
    expect(dockerfile).toMatch(/ln -s \/app\/cli\/bin\.mjs \/usr\/local\/bin\/darkroom/);
    // tsx runs the sources at run time, so --omit=dev must keep it.
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; bin: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
    expect(pkg.bin.darkroom).toBe('cli/bin.mjs');
  });

  it('copies every folder the CLI imports, and .dockerignore keeps none of them out', () => {
    // Walk the static and dynamic relative imports from the entry point.
    const seen = new Set<string>();
    const queue = [path.join(ROOT, 'cli/bin.mjs')];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file) || !fs.existsSync(file)) continue;
      seen.add(file);
      const source = fs.readFileSync(file, 'utf8');
      for (const m of source.matchAll(/(?:from\s+|import\(\s*)'(\.{1,2}\/[^']+)'/g)) queue.push(path.resolve(path.dirname(file), m[1]));
    }
    const folders = new Set([...seen].map((f) => path.relative(ROOT, f).split(path.sep)[0]).filter((f) => !f.includes('.')));
    expect(folders).toContain('processors');
    const copied = new Set([...dockerfile.matchAll(/^COPY\s+(?!--from)(\S+)\s/gm)].map((m) => m[1].replace(/\/$/, '')));
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const folder of folders) {
      expect(copied, `the image lacks ${folder}/ (imported by the CLI)`).toContain(folder);
      expect(ignored, `.dockerignore drops ${folder}/`).not.toContain(folder);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'data', '.git', 'test']));
  });
});

describe('Grafana and Prometheus files', () => {
  const datasources = parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'provisioning/datasources/datasources.yml'), 'utf8')) as {
    datasources: Array<{ uid: string; type: string; url?: string; jsonData?: Record<string, unknown> }>;
  };
  const uids = new Map(datasources.datasources.map((d) => [d.uid, d]));

  it('dashboards parse, have unique uids, and query only provisioned data sources of the right kind', () => {
    const dashboards = loadDashboards();
    expect(dashboards.map((d) => d.file)).toEqual(['pipeline-health.json', 'product-analytics.json']);
    expect(new Set(dashboards.map((d) => d.dashboard.uid)).size).toBe(dashboards.length);
    const queries = dashboardQueries();
    expect(queries.filter((q) => q.kind === 'promql').length).toBeGreaterThanOrEqual(10);
    expect(queries.filter((q) => q.kind === 'sql').length).toBeGreaterThanOrEqual(6);
    for (const q of queries) {
      const ds = uids.get(q.datasourceUid);
      expect(ds, `${q.panel}: unknown datasource ${q.datasourceUid}`).toBeDefined();
      expect(ds!.type, q.panel).toBe(q.kind === 'promql' ? 'prometheus' : 'grafana-clickhouse-datasource');
      expect(q.text.trim(), q.panel).not.toBe('');
    }
  });

  it('data sources point at the compose services', () => {
    expect(new URL(uids.get('prometheus')!.url!).host).toBe('prometheus:9090');
    const ch = uids.get('clickhouse')!.jsonData!;
    expect(services[String(ch.host)]).toBeDefined();
    expect(ch.protocol).toBe('http');
    // The read-only user Grafana uses is created by the init script the ClickHouse service mounts.
    const init = fs.readFileSync(path.join(DASHBOARDS_DIR, 'clickhouse/grafana-user.sql'), 'utf8');
    expect(init).toContain(`CREATE USER IF NOT EXISTS ${ch.username}`);
    expect(init).toContain(`GRANT SELECT ON ${ch.defaultDatabase}.*`);
    expect(services.clickhouse.environment?.CLICKHOUSE_DB).toBe(ch.defaultDatabase);
  });

  it('provisioning, rule and scrape paths match what docker-compose.yml mounts', () => {
    const mounts = (s: string) => new Map((services[s].volumes ?? []).map((v) => { const [from, to] = v.split(':'); return [to, from]; }));
    const grafana = mounts('grafana');
    const provider = parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'provisioning/dashboards/dashboards.yml'), 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    expect(grafana.get(provider.providers[0].options.path)).toBe('./dashboards/grafana');
    expect(grafana.get('/etc/grafana/provisioning/datasources')).toBe('./dashboards/provisioning/datasources');
    expect(grafana.get('/etc/grafana/provisioning/dashboards')).toBe('./dashboards/provisioning/dashboards');

    const prometheus = parse(fs.readFileSync(path.join(DASHBOARDS_DIR, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
    };
    const promMounts = mounts('prometheus');
    for (const rules of prometheus.rule_files) expect(promMounts.get(rules)).toBe('./dashboards/alerts.yml');
    expect(promMounts.get('/etc/prometheus/prometheus.yml')).toBe('./dashboards/prometheus.yml');
    // Both darkroom roles are scraped on the port they listen on; processors through DNS, so replicas count.
    const port = Number(services.serve.environment?.PORT);
    const jobs = new Map(prometheus.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs.get('darkroom-serve')!.static_configs![0].targets).toEqual([`serve:${port}`]);
    expect(jobs.get('darkroom-processors')!.dns_sd_configs![0]).toMatchObject({ names: ['processors'], port: Number(services.processors.environment?.PORT) });
  });
});
