// A durable, file-backed schema registry behind the `Client` interface of @confluentinc/schemaregistry,
// so the package's AvroSerializer/AvroDeserializer and our own serde work unchanged without a registry
// server. Storage is LMDB (the `lmdb` package) in <dataDir>/registry/: every write is one ACID
// transaction, fsynced before its promise resolves, and LMDB's write lock is shared between
// processes, so `darkroom tail` beside `npm start` on one data dir allocate ids without collisions.
//
// Semantics follow the Confluent registry where they matter to us:
// - schema ids are global: the same schema text gets the same id under every subject;
// - versions count per subject from 1; registering an already registered schema is idempotent;
// - compatibility is configured per subject and globally (default BACKWARD) and enforced on register;
// - soft delete hides versions but keeps ids resolvable (old records stay decodable);
//   permanent delete requires a soft delete first.
// Only AVRO schemas without references are accepted: that is all darkroom writes.
import crypto from 'node:crypto';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import {
  Compatibility, RestError,
  type Association, type AssociationCreateOrUpdateRequest, type AssociationResponse, type Client,
  type ClientConfig, type LifecyclePolicy, type SchemaInfo, type SchemaMetadata, type ServerConfig,
} from '@confluentinc/schemaregistry';
import type avro from 'avsc';
import { compatibilityProblem, isCompatibilityLevel, parseAvro } from './compatibility.ts';

export const DEFAULT_COMPATIBILITY = Compatibility.BACKWARD;

// Error codes of the Confluent REST API, so callers can handle both registries alike.
const SUBJECT_NOT_FOUND = 40401;
const VERSION_NOT_FOUND = 40402;
const SCHEMA_NOT_FOUND = 40403;
const SUBJECT_NOT_SOFT_DELETED = 40405;
const INCOMPATIBLE_SCHEMA = 409;
const INVALID_SCHEMA = 42201;
const INVALID_COMPATIBILITY_LEVEL = 42203;
const UNSUPPORTED = 50100;

interface StoredSchema { id: number; guid: string; info: SchemaInfo }
interface SubjectVersion { version: number; id: number; deleted: boolean }
interface SubjectRecord { versions: SubjectVersion[] }

const GLOBAL = '';
const NEXT_ID = 'next-id';

function notFound(message: string, code: number): RestError {
  return new RestError(message, 404, code);
}

/** The parts of a SchemaInfo that make it "the same schema"; whitespace in the JSON does not count. */
function canonical(info: SchemaInfo): SchemaInfo {
  const out: SchemaInfo = { schemaType: info.schemaType ?? 'AVRO', schema: JSON.stringify(JSON.parse(info.schema)) };
  if (info.metadata) out.metadata = info.metadata;
  if (info.ruleSet) out.ruleSet = info.ruleSet;
  return out;
}

function contentKey(info: SchemaInfo): string {
  return crypto.createHash('sha256').update(JSON.stringify(info)).digest('hex');
}

export interface FileRegistryOptions {
  /** The darkroom data dir; the registry lives in <dataDir>/registry/. */
  dataDir: string;
}

export class FileRegistryClient implements Client {
  readonly directory: string;
  private readonly env: RootDatabase;
  private readonly schemas: Database<StoredSchema, number>;
  private readonly contents: Database<number, string>;
  private readonly guids: Database<number, string>;
  private readonly subjects: Database<SubjectRecord, string>;
  private readonly configs: Database<ServerConfig, string>;
  private readonly meta: Database<number, string>;

  constructor(options: FileRegistryOptions) {
    this.directory = path.join(options.dataDir, 'registry');
    this.env = open({ path: this.directory, maxDbs: 8, encoding: 'json' });
    const db = <V, K extends string | number>(name: string) => this.env.openDB<V, K>({ name, encoding: 'json' });
    this.schemas = db('schemas');
    this.contents = db('contents');
    this.guids = db('guids');
    this.subjects = db('subjects');
    this.configs = db('configs');
    this.meta = db('meta');
  }

  config(): ClientConfig {
    return { baseURLs: [`file://${this.directory}`] };
  }

  // --- registering -------------------------------------------------------------------------------

  async register(subject: string, schema: SchemaInfo, normalize = false): Promise<number> {
    return (await this.registerFullResponse(subject, schema, normalize)).id!;
  }

  async registerFullResponse(subject: string, schema: SchemaInfo, _normalize = false): Promise<SchemaMetadata> {
    const info = this.checkedInfo(schema);
    const candidate = parseAvro(info.schema);
    const key = contentKey(info);
    // One write transaction: the read of the latest versions, the compatibility check and the id
    // allocation see the same state, also when another process registers at the same moment.
    return this.env.childTransaction(() => {
      const record = this.subjects.get(subject) ?? { versions: [] };
      const live = record.versions.filter((v) => !v.deleted);
      const existingId = this.contents.get(key);
      const already = existingId === undefined ? undefined : live.find((v) => v.id === existingId);
      if (already) return this.metadata(subject, already);

      const level = this.compatibilityOf(subject);
      const earlier = live.map((v) => ({ version: v.version, type: this.typeOf(v.id) }));
      const problem = compatibilityProblem(level, candidate, earlier);
      if (problem) {
        throw new RestError(`Schema for subject "${subject}" is incompatible with an earlier version: ${problem}`, 409, INCOMPATIBLE_SCHEMA);
      }

      let id = existingId;
      if (id === undefined) {
        id = (this.meta.get(NEXT_ID) ?? 1);
        this.meta.put(NEXT_ID, id + 1);
        const guid = crypto.randomUUID();
        this.schemas.put(id, { id, guid, info });
        this.contents.put(key, id);
        this.guids.put(guid, id);
      }
      const version = Math.max(0, ...record.versions.map((v) => v.version)) + 1;
      const entry = { version, id, deleted: false };
      this.subjects.put(subject, { versions: [...record.versions, entry] });
      return this.metadata(subject, entry);
    }) as Promise<SchemaMetadata>;
  }

  // --- looking up --------------------------------------------------------------------------------

  /** Ids are global, so the subject is only a hint (the package's deserializers may pass ''). */
  async getBySubjectAndId(_subject: string, id: number, _format?: string): Promise<SchemaInfo> {
    return { ...this.stored(id).info };
  }

  async getByGuid(guid: string, _format?: string): Promise<SchemaInfo> {
    const id = this.guids.get(guid);
    if (id === undefined) throw notFound(`Schema with guid ${guid} not found`, SCHEMA_NOT_FOUND);
    return { ...this.stored(id).info };
  }

  async getId(subject: string, schema: SchemaInfo, normalize = false): Promise<number> {
    return (await this.getIdFullResponse(subject, schema, normalize)).id!;
  }

  async getIdFullResponse(subject: string, schema: SchemaInfo, _normalize = false): Promise<SchemaMetadata> {
    return this.metadata(subject, this.findVersion(subject, schema, false));
  }

  async getVersion(subject: string, schema: SchemaInfo, _normalize = false, deleted = false): Promise<number> {
    return this.findVersion(subject, schema, deleted).version;
  }

  async getLatestSchemaMetadata(subject: string, _format?: string): Promise<SchemaMetadata> {
    const live = this.versionsOf(subject, false);
    return this.metadata(subject, live[live.length - 1]);
  }

  /** `version` -1 means the latest, as in the REST API's "latest". */
  async getSchemaMetadata(subject: string, version: number, deleted = false, _format?: string): Promise<SchemaMetadata> {
    const versions = this.versionsOf(subject, deleted);
    const entry = version === -1 ? versions[versions.length - 1] : versions.find((v) => v.version === version);
    if (!entry) throw notFound(`Version ${version} of subject "${subject}" not found`, VERSION_NOT_FOUND);
    return this.metadata(subject, entry);
  }

  async getLatestWithMetadata(subject: string, metadata: { [key: string]: string }, deleted = false, _format?: string): Promise<SchemaMetadata> {
    const matches = this.versionsOf(subject, deleted).filter((v) => {
      const properties = this.stored(v.id).info.metadata?.properties ?? {};
      return Object.entries(metadata).every(([k, value]) => properties[k] === value);
    });
    if (matches.length === 0) throw notFound(`No version of subject "${subject}" has metadata ${JSON.stringify(metadata)}`, VERSION_NOT_FOUND);
    return this.metadata(subject, matches[matches.length - 1]);
  }

  async getAllVersions(subject: string): Promise<number[]> {
    return this.versionsOf(subject, false).map((v) => v.version);
  }

  async getAllSubjects(): Promise<string[]> {
    const names: string[] = [];
    for (const { key, value } of this.subjects.getRange()) {
      if (value.versions.some((v) => !v.deleted)) names.push(key);
    }
    return names.sort();
  }

  // --- deleting ----------------------------------------------------------------------------------

  async deleteSubject(subject: string, permanent = false): Promise<number[]> {
    return this.env.childTransaction(() => {
      const record = this.subjects.get(subject);
      if (!record || record.versions.length === 0) throw notFound(`Subject "${subject}" not found`, SUBJECT_NOT_FOUND);
      if (!permanent) {
        const live = record.versions.filter((v) => !v.deleted);
        if (live.length === 0) throw notFound(`Subject "${subject}" was soft deleted`, SUBJECT_NOT_FOUND);
        this.subjects.put(subject, { versions: record.versions.map((v) => ({ ...v, deleted: true })) });
        return live.map((v) => v.version);
      }
      if (record.versions.some((v) => !v.deleted)) {
        throw new RestError(`Subject "${subject}" must be soft deleted before it is permanently deleted`, 404, SUBJECT_NOT_SOFT_DELETED);
      }
      this.subjects.remove(subject);
      this.configs.remove(subject);
      return record.versions.map((v) => v.version);
    }) as Promise<number[]>;
  }

  async deleteSubjectVersion(subject: string, version: number, permanent = false): Promise<number> {
    return this.env.childTransaction(() => {
      const record = this.subjects.get(subject);
      if (!record) throw notFound(`Subject "${subject}" not found`, SUBJECT_NOT_FOUND);
      const entry = record.versions.find((v) => v.version === version);
      if (!entry || (!permanent && entry.deleted)) {
        throw notFound(`Version ${version} of subject "${subject}" not found`, VERSION_NOT_FOUND);
      }
      if (permanent && !entry.deleted) {
        throw new RestError(`Version ${version} of subject "${subject}" must be soft deleted before it is permanently deleted`, 404, SUBJECT_NOT_SOFT_DELETED);
      }
      const versions = permanent
        ? record.versions.filter((v) => v !== entry)
        : record.versions.map((v) => (v === entry ? { ...v, deleted: true } : v));
      this.subjects.put(subject, { versions });
      return version;
    }) as Promise<number>;
  }

  // --- compatibility and config -------------------------------------------------------------------

  async testSubjectCompatibility(subject: string, schema: SchemaInfo): Promise<boolean> {
    const candidate = parseAvro(this.checkedInfo(schema).schema);
    const earlier = (this.subjects.get(subject)?.versions ?? []).filter((v) => !v.deleted)
      .map((v) => ({ version: v.version, type: this.typeOf(v.id) }));
    return compatibilityProblem(this.compatibilityOf(subject), candidate, earlier) === undefined;
  }

  async testCompatibility(subject: string, version: number, schema: SchemaInfo): Promise<boolean> {
    const candidate = parseAvro(this.checkedInfo(schema).schema);
    const entry = (await this.getSchemaMetadata(subject, version)) as SchemaMetadata;
    const level = this.compatibilityOf(subject).replace('_TRANSITIVE', '') as Compatibility;
    return compatibilityProblem(level, candidate, [{ version: entry.version!, type: this.typeOf(entry.id!) }]) === undefined;
  }

  /** The subject's level, else the global one (like the REST API's defaultToGlobal=true). */
  async getCompatibility(subject: string): Promise<Compatibility> {
    return this.compatibilityOf(subject);
  }

  async updateCompatibility(subject: string, update: Compatibility): Promise<Compatibility> {
    await this.updateConfig(subject, { compatibilityLevel: update });
    return update;
  }

  async getDefaultCompatibility(): Promise<Compatibility> {
    return this.compatibilityOf(GLOBAL);
  }

  async updateDefaultCompatibility(update: Compatibility): Promise<Compatibility> {
    await this.updateDefaultConfig({ compatibilityLevel: update });
    return update;
  }

  async getConfig(subject: string): Promise<ServerConfig> {
    return { ...(this.configs.get(GLOBAL) ?? {}), ...(this.configs.get(subject) ?? {}), compatibilityLevel: this.compatibilityOf(subject) };
  }

  async updateConfig(subject: string, update: ServerConfig): Promise<ServerConfig> {
    const level = update.compatibilityLevel ?? update.compatibility;
    if (level !== undefined && !isCompatibilityLevel(level)) {
      throw new RestError(`Invalid compatibility level "${level}"; one of ${Object.values(Compatibility).join(', ')}`, 422, INVALID_COMPATIBILITY_LEVEL);
    }
    return this.env.childTransaction(() => {
      const merged: ServerConfig = { ...(this.configs.get(subject) ?? {}), ...update };
      if (level !== undefined) {
        merged.compatibilityLevel = level;
        delete merged.compatibility;
      }
      this.configs.put(subject, merged);
      return merged;
    }) as Promise<ServerConfig>;
  }

  async getDefaultConfig(): Promise<ServerConfig> {
    return this.getConfig(GLOBAL);
  }

  async updateDefaultConfig(update: ServerConfig): Promise<ServerConfig> {
    return this.updateConfig(GLOBAL, update);
  }

  // --- associations: not kept by the file registry ------------------------------------------------

  /** No associations are stored, so the package's AssociatedNameStrategy falls back to its default. */
  async getAssociationsByResourceName(
    _resourceName: string, _resourceNamespace: string, _resourceType: string | null,
    _associationTypes: string[], _lifecycle: LifecyclePolicy | null, _offset: number, _limit: number,
  ): Promise<Association[]> {
    return [];
  }

  async createAssociation(_request: AssociationCreateOrUpdateRequest): Promise<AssociationResponse> {
    throw new RestError('Associations are not supported by the file-backed registry; use a subject name strategy', 501, UNSUPPORTED);
  }

  async deleteAssociations(): Promise<void> {}

  // Nothing is cached in memory: every lookup reads LMDB (microseconds), so a schema registered by
  // another process is visible at once. Callers cache what they decoded (see serde.ts).
  clearLatestCaches(): void {}
  clearCaches(): void {}

  close(): Promise<void> {
    return this.env.close();
  }

  // --- internals ---------------------------------------------------------------------------------

  private checkedInfo(schema: SchemaInfo): SchemaInfo {
    const schemaType = schema.schemaType ?? 'AVRO';
    if (schemaType !== 'AVRO') {
      throw new RestError(`The file-backed registry stores AVRO schemas only, not ${schemaType}`, 422, INVALID_SCHEMA);
    }
    if (schema.references?.length) {
      throw new RestError('Schema references are not supported by the file-backed registry', 422, INVALID_SCHEMA);
    }
    try {
      parseAvro(schema.schema);
    } catch (err) {
      throw new RestError(`Invalid Avro schema: ${(err as Error).message}`, 422, INVALID_SCHEMA);
    }
    return canonical(schema);
  }

  private stored(id: number): StoredSchema {
    const stored = this.schemas.get(id);
    if (!stored) throw notFound(`Schema ${id} not found`, SCHEMA_NOT_FOUND);
    return stored;
  }

  private typeOf(id: number): avro.Type {
    return parseAvro(this.stored(id).info.schema);
  }

  private compatibilityOf(subject: string): Compatibility {
    const own = this.configs.get(subject)?.compatibilityLevel;
    return own ?? this.configs.get(GLOBAL)?.compatibilityLevel ?? DEFAULT_COMPATIBILITY;
  }

  private versionsOf(subject: string, includeDeleted: boolean): SubjectVersion[] {
    const versions = (this.subjects.get(subject)?.versions ?? []).filter((v) => includeDeleted || !v.deleted);
    if (versions.length === 0) throw notFound(`Subject "${subject}" not found`, SUBJECT_NOT_FOUND);
    return versions;
  }

  private findVersion(subject: string, schema: SchemaInfo, includeDeleted: boolean): SubjectVersion {
    const id = this.contents.get(contentKey(canonical(schema)));
    const entry = id === undefined ? undefined : this.versionsOf(subject, includeDeleted).find((v) => v.id === id);
    if (!entry) throw notFound(`Schema not registered under subject "${subject}"`, SCHEMA_NOT_FOUND);
    return entry;
  }

  private metadata(subject: string, entry: SubjectVersion): SchemaMetadata {
    const { guid, info } = this.stored(entry.id);
    return { ...info, id: entry.id, guid, subject, version: entry.version };
  }
}
