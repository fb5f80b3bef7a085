// Where the integration tests find the real services (infra/services.sh starts them on these ports).
export const SERVICES = {
  kafka: process.env.TEST_KAFKA_BROKERS ?? '127.0.0.1:19092',
  redis: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:16379',
  schemaRegistry: process.env.TEST_SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:18081',
  /** ClickHouse's HTTP interface: infra/clickhouse-http (chDB behind it), or a real server. */
  clickhouse: process.env.TEST_CLICKHOUSE_URL ?? 'http://127.0.0.1:18123',
} as const;

export type ServiceName = keyof typeof SERVICES;
