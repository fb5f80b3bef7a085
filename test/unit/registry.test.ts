import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Compatibility, RestError, type SchemaInfo } from '@confluentinc/schemaregistry';
import { createRegistryClient, FileRegistryClient } from '../../schemas/registry/index.ts';

const avro = (fields: object[], name = 'io.test.Thing'): SchemaInfo => ({
  schemaType: 'AVRO',
  schema: JSON.stringify({ type: 'record', name, fields }),
});
const V1 = avro([{ name: 'a', type: 'string' }]);
const V2_OPTIONAL_B = avro([{ name: 'a', type: 'string' }, { name: 'b', type: ['null', 'string'], default: null }]);
const V2_DEFAULTED_B = avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'string', default: '' }]);
const V3_REQUIRED_B = avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }]);
const V_REQUIRED_C = avro([{ name: 'a', type: 'string' }, { name: 'c', type: 'long' }]);

const dirs: string[] = [];
const clients: FileRegistryClient[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-registry-'));
  dirs.push(dir);
  return dir;
}
function openRegistry(dataDir = tempDir()): FileRegistryClient {
  const client = new FileRegistryClient({ dataDir });
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function rejection(promise: Promise<unknown>): Promise<RestError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(RestError);
  return err as RestError;
}

describe('file registry: ids and versions', () => {
  it('assigns global ids: the same schema has the same id under every subject', async () => {
    const registry = openRegistry();
    const first = await registry.register('posts-io.test.Thing', V1, false);
    const second = await registry.register('stories-io.test.Thing', V1, false);
    expect(second).toBe(first);
    expect(await registry.getAllSubjects()).toEqual(['posts-io.test.Thing', 'stories-io.test.Thing']);
  });

  it('counts versions per subject from 1 and treats re-registering as a no-op', async () => {
    const registry = openRegistry();
    const id1 = await registry.register('s', V1, false);
    const id2 = await registry.register('s', V2_OPTIONAL_B, false);
    expect(id2).not.toBe(id1);
    expect(await registry.register('s', V1, false)).toBe(id1);
    expect(await registry.getAllVersions('s')).toEqual([1, 2]);
    const latest = await registry.getLatestSchemaMetadata('s');
    expect(latest).toMatchObject({ id: id2, version: 2, subject: 's' });
    expect(await registry.getVersion('s', V1, false, false)).toBe(1);
    expect(await registry.getId('s', V2_OPTIONAL_B, false)).toBe(id2);
  });

  it('ignores JSON whitespace when deciding whether a schema is already registered', async () => {
    const registry = openRegistry();
    const id = await registry.register('s', V1, false);
    const spaced = { ...V1, schema: JSON.stringify(JSON.parse(V1.schema), null, 4) };
    expect(await registry.register('s', spaced, false)).toBe(id);
  });

  it('answers lookups of unknown subjects and ids with 404 RestErrors', async () => {
    const registry = openRegistry();
    expect((await rejection(registry.getLatestSchemaMetadata('nope'))).status).toBe(404);
    expect((await rejection(registry.getBySubjectAndId('', 42))).errorCode).toBe(40403);
    expect((await rejection(registry.getId('nope', V1, false))).status).toBe(404);
  });

  it('resolves a schema by id with any subject hint, and by guid', async () => {
    const registry = openRegistry();
    const meta = await registry.registerFullResponse('s', V1, false);
    expect((await registry.getBySubjectAndId('', meta.id!)).schema).toBe(V1.schema);
    expect((await registry.getBySubjectAndId('other', meta.id!)).schema).toBe(V1.schema);
    expect((await registry.getByGuid(meta.guid!)).schema).toBe(V1.schema);
  });

  it('rejects schemas that are not valid Avro with a clear message', async () => {
    const registry = openRegistry();
    const err = await rejection(registry.register('s', { schemaType: 'AVRO', schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}' }, false));
    expect(err.message).toMatch(/^Invalid Avro schema: .*nope/);
  });
});

describe('file registry: compatibility', () => {
  it('defaults to BACKWARD globally and per subject', async () => {
    const registry = openRegistry();
    expect(await registry.getDefaultCompatibility()).toBe(Compatibility.BACKWARD);
    expect(await registry.getCompatibility('s')).toBe(Compatibility.BACKWARD);
  });

  it('BACKWARD accepts an added optional field', async () => {
    const registry = openRegistry();
    await registry.register('s', V1, false);
    await expect(registry.register('s', V2_OPTIONAL_B, false)).resolves.toBeGreaterThan(0);
  });

  it('BACKWARD rejects an added field without default, naming subject and field', async () => {
    const registry = openRegistry();
    await registry.register('s', V1, false);
    const err = await rejection(registry.register('s', V_REQUIRED_C, false));
    expect(err.status).toBe(409);
    expect(err.message).toContain('Schema for subject "s" is incompatible');
    expect(err.message).toContain('io.test.Thing.c');
    expect(await registry.getAllVersions('s')).toEqual([1]); // nothing was written
  });

  it('BACKWARD checks only the latest version, BACKWARD_TRANSITIVE checks all', async () => {
    const registry = openRegistry();
    await registry.register('s', V1, false);
    await registry.register('s', V2_DEFAULTED_B, false);
    // v3 reads v2 data (b is there) but not v1 data (b is missing and has no default)
    expect(await registry.testSubjectCompatibility('s', V3_REQUIRED_B)).toBe(true);
    await registry.updateCompatibility('s', Compatibility.BACKWARD_TRANSITIVE);
    expect(await registry.testSubjectCompatibility('s', V3_REQUIRED_B)).toBe(false);
    expect((await rejection(registry.register('s', V3_REQUIRED_B, false))).message).toContain('version 1');
  });

  it('FORWARD lets producers add a required field that old readers ignore', async () => {
    const registry = openRegistry();
    await registry.updateCompatibility('s', Compatibility.FORWARD);
    await registry.register('s', V1, false);
    await expect(registry.register('s', V_REQUIRED_C, false)).resolves.toBeGreaterThan(0);
  });

  it('FULL requires both directions', async () => {
    const registry = openRegistry();
    await registry.updateDefaultCompatibility(Compatibility.FULL);
    await registry.register('s', V1, false);
    expect(await registry.testSubjectCompatibility('s', V_REQUIRED_C)).toBe(false);
    expect(await registry.testSubjectCompatibility('s', V2_OPTIONAL_B)).toBe(true);
  });

  it('NONE on a subject allows any change there while others stay BACKWARD', async () => {
    const registry = openRegistry();
    await registry.register('loose', V1, false);
    await registry.register('strict', V1, false);
    await registry.updateCompatibility('loose', Compatibility.NONE);
    await expect(registry.register('loose', V_REQUIRED_C, false)).resolves.toBeGreaterThan(0);
    expect((await rejection(registry.register('strict', V_REQUIRED_C, false))).status).toBe(409);
  });

  it('rejects an unknown compatibility level', async () => {
    const registry = openRegistry();
    const err = await rejection(registry.updateCompatibility('s', 'SIDEWAYS' as Compatibility));
    expect(err.message).toMatch(/Invalid compatibility level "SIDEWAYS"/);
  });
});

describe('file registry: deletes', () => {
  it('soft delete hides versions but keeps the id resolvable for old records', async () => {
    const registry = openRegistry();
    const id = await registry.register('s', V1, false);
    expect(await registry.deleteSubject('s', false)).toEqual([1]);
    expect(await registry.getAllSubjects()).toEqual([]);
    expect((await registry.getBySubjectAndId('', id)).schema).toBe(V1.schema);
    expect((await registry.getSchemaMetadata('s', 1, true)).id).toBe(id);
  });

  it('permanent delete requires a soft delete first', async () => {
    const registry = openRegistry();
    await registry.register('s', V1, false);
    expect((await rejection(registry.deleteSubject('s', true))).errorCode).toBe(40405);
    await registry.deleteSubject('s', false);
    expect(await registry.deleteSubject('s', true)).toEqual([1]);
    expect((await rejection(registry.getSchemaMetadata('s', 1, true))).status).toBe(404);
  });
});

describe('file registry: durability', () => {
  it('reopened from the same data dir it has the same ids, versions and config', async () => {
    const dataDir = tempDir();
    const before = openRegistry(dataDir);
    const id1 = await before.register('s', V1, false);
    const id2 = await before.register('s', V2_OPTIONAL_B, false);
    await before.updateCompatibility('s', Compatibility.FULL);
    await before.close();
    clients.splice(clients.indexOf(before), 1);

    const after = openRegistry(dataDir);
    expect(fs.readdirSync(path.join(dataDir, 'registry')).length).toBeGreaterThan(0);
    expect(await after.getId('s', V1, false)).toBe(id1);
    expect(await after.getLatestSchemaMetadata('s')).toMatchObject({ id: id2, version: 2 });
    expect(await after.getCompatibility('s')).toBe(Compatibility.FULL);
    // the id counter survived too: a new schema gets a new id
    const id3 = await after.register('other', V_REQUIRED_C, false);
    expect(new Set([id1, id2, id3]).size).toBe(3);
  });

  it('two processes registering at once on one data dir get distinct, consistent ids', async () => {
    const dataDir = tempDir();
    const registryModule = fileURLToPath(new URL('../../schemas/registry/file-registry.ts', import.meta.url));
    const child = (name: string) => new Promise<number[]>((resolve, reject) => {
      const code = `
        const { FileRegistryClient } = await import(${JSON.stringify(registryModule)});
        const registry = new FileRegistryClient({ dataDir: ${JSON.stringify(dataDir)} });
        const ids = [];
        for (let i = 0; i < 20; i++) {
          const schema = JSON.stringify({ type: 'record', name: '${name}' + i, fields: [{ name: 'a', type: 'string' }] });
          ids.push(await registry.register('s-${name}-' + i, { schemaType: 'AVRO', schema }, false));
        }
        await registry.close();
        console.log(JSON.stringify(ids));`;
      const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d) => (out += d));
      proc.stderr.on('data', (d) => (err += d));
      proc.on('exit', (status) => (status === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
    });
    const [a, b] = await Promise.all([child('A'), child('B')]);
    const all = [...a, ...b];
    expect(new Set(all).size).toBe(40);
    const registry = openRegistry(dataDir);
    expect((await registry.getAllSubjects()).length).toBe(40);
    for (let i = 0; i < 20; i++) expect(await registry.getLatestSchemaMetadata(`s-A-${i}`)).toMatchObject({ id: a[i] });
  }, 30_000);
});

describe('createRegistryClient', () => {
  it('without a url returns the file registry in <dataDir>/registry', async () => {
    const dataDir = tempDir();
    const client = createRegistryClient({ dataDir });
    expect(client).toBeInstanceOf(FileRegistryClient);
    expect(client.config().baseURLs[0]).toBe(`file://${path.join(dataDir, 'registry')}`);
    await (client as FileRegistryClient).close();
  });

  it('with a url returns the package REST client for that url', () => {
    const client = createRegistryClient({ url: 'http://registry.example:8081', dataDir: tempDir() });
    expect(client).not.toBeInstanceOf(FileRegistryClient);
    expect(client.config().baseURLs).toEqual(['http://registry.example:8081']);
  });
});
