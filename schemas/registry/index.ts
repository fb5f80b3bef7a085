// Where schemas live: a Confluent-compatible registry server when a URL is configured
// (SCHEMA_REGISTRY_URL, read by cli/config.ts), otherwise the file-backed registry in the data dir.
// Both are the package's `Client`, so everything above this line is the same code either way.
import { SchemaRegistryClient, type Client } from '@confluentinc/schemaregistry';
import { FileRegistryClient } from './file-registry.ts';

export { FileRegistryClient, DEFAULT_COMPATIBILITY } from './file-registry.ts';
export { compatibilityProblem } from './compatibility.ts';

export interface RegistryOptions {
  /** Base URL of a Confluent-compatible registry; absent means the file-backed registry. */
  url?: string;
  /** The darkroom data dir; the file-backed registry keeps its files in <dataDir>/registry/. */
  dataDir: string;
}

export function createRegistryClient(options: RegistryOptions): Client {
  if (options.url) return SchemaRegistryClient.newClient({ baseURLs: [options.url] });
  return new FileRegistryClient({ dataDir: options.dataDir });
}
