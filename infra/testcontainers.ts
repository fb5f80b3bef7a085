// The services of the integration tests in containers, where a Docker engine is reachable: Apache
// Kafka (KRaft), a Confluent schema registry, Redis and a ClickHouse server, on the same pinned images
// as docker-compose.yml. Returns their addresses in the shape of test/service-endpoints.ts, so a
// vitest globalSetup can export them as TEST_* variables and every suite runs unchanged (see
// infra/README.md). On a machine without Docker, infra/services.sh stays the way.
//
// Kafka needs one care: a client first bootstraps, then connects to the address the broker advertises,
// and that must be the host port Docker mapped, which is only known once the container runs. So the
// container starts a shell that waits for a start script; we write the script with the mapped port
// after start, and Kafka comes up advertising it. Containers on the shared network (the registry)
// use a second listener, kafka:9093.
import { GenericContainer, Network, Wait, getContainerRuntimeClient, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { Kafka, logLevel } from 'kafkajs';
import type { SERVICES } from '../test/service-endpoints.ts';

export const IMAGES = {
  kafka: 'apache/kafka:3.9.1',
  schemaRegistry: 'confluentinc/cp-schema-registry:7.7.1',
  redis: 'redis:7.4.2-bookworm',
  clickhouse: 'clickhouse/clickhouse-server:25.8',
} as const;

export type ServiceEndpoints = { -readonly [K in keyof typeof SERVICES]: string };

export interface ContainerServices extends ServiceEndpoints {
  /** ClickHouse HTTP URL with credentials and database (what CLICKHOUSE_URL takes). */
  clickhouse: string;
  /** The same addresses as TEST_* variables, for process.env of the test workers. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** True when testcontainers finds a container runtime (Docker, Podman, a remote DOCKER_HOST...). */
export async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

const KAFKA_EXTERNAL = 9092;
const KAFKA_INTERNAL = 9093;
const KAFKA_CONTROLLER = 9094;
const START_SCRIPT = '/tmp/darkroom-start.sh';

async function startKafka(network: StartedNetwork): Promise<{ container: StartedTestContainer; brokers: string }> {
  const container = await new GenericContainer(IMAGES.kafka)
    .withNetwork(network)
    .withNetworkAliases('kafka')
    .withExposedPorts(KAFKA_EXTERNAL)
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `EXTERNAL://:${KAFKA_EXTERNAL},INTERNAL://:${KAFKA_INTERNAL},CONTROLLER://:${KAFKA_CONTROLLER}`,
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'EXTERNAL:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_INTER_BROKER_LISTENER_NAME: 'INTERNAL',
      KAFKA_CONTROLLER_QUORUM_VOTERS: `1@localhost:${KAFKA_CONTROLLER}`,
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_NUM_PARTITIONS: '8',
    })
    .withEntrypoint(['sh', '-c'])
    .withCommand([`echo 'waiting for ${START_SCRIPT}'; while [ ! -f ${START_SCRIPT} ]; do sleep 0.1; done; exec sh ${START_SCRIPT}`])
    .withWaitStrategy(Wait.forLogMessage(`waiting for ${START_SCRIPT}`))
    .start();

  const brokers = `${container.getHost()}:${container.getMappedPort(KAFKA_EXTERNAL)}`;
  await container.copyContentToContainer([{
    target: START_SCRIPT,
    mode: 0o755,
    content: [
      `export KAFKA_ADVERTISED_LISTENERS='EXTERNAL://${brokers},INTERNAL://kafka:${KAFKA_INTERNAL}'`,
      'exec /etc/kafka/docker/run',
      '',
    ].join('\n'),
  }]);

  // Ready when a client on this host gets metadata through the advertised address.
  const admin = new Kafka({ clientId: 'darkroom-testcontainers', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 300 } }).admin();
  await admin.connect();
  await admin.describeCluster();
  await admin.disconnect();
  return { container, brokers };
}

async function startSchemaRegistry(network: StartedNetwork): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(IMAGES.schemaRegistry)
    .withNetwork(network)
    .withExposedPorts(8081)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: `PLAINTEXT://kafka:${KAFKA_INTERNAL}`,
      SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR: '1',
      SCHEMA_REGISTRY_SCHEMA_COMPATIBILITY_LEVEL: 'backward',
    })
    .withWaitStrategy(Wait.forHttp('/subjects', 8081).forStatusCode(200))
    .withStartupTimeout(120_000)
    .start();
  return { container, url: `http://${container.getHost()}:${container.getMappedPort(8081)}` };
}

async function startRedis(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(IMAGES.redis)
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage('Ready to accept connections'))
    .start();
  return { container, url: `redis://${container.getHost()}:${container.getMappedPort(6379)}` };
}

async function startClickHouse(): Promise<{ container: StartedTestContainer; url: string }> {
  const container = await new GenericContainer(IMAGES.clickhouse)
    .withExposedPorts(8123)
    .withEnvironment({ CLICKHOUSE_DB: 'darkroom', CLICKHOUSE_USER: 'darkroom', CLICKHOUSE_PASSWORD: 'darkroom', CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT: '1' })
    .withUlimits({ nofile: { soft: 262144, hard: 262144 } })
    .withWaitStrategy(Wait.forHttp('/ping', 8123).forStatusCode(200))
    .withStartupTimeout(120_000)
    .start();
  return { container, url: `http://darkroom:darkroom@${container.getHost()}:${container.getMappedPort(8123)}/darkroom` };
}

/**
 * Starts every service (Redis and ClickHouse alongside Kafka, the registry after Kafka) and returns
 * their addresses. Throws with one clear line when no container runtime is reachable. Containers are
 * also removed by testcontainers' reaper if the test process dies before stop().
 */
export async function startContainerServices(): Promise<ContainerServices> {
  if (!(await containerRuntimeAvailable())) {
    throw new Error('no container runtime reachable (Docker/Podman); start the services with: bash infra/services.sh start');
  }
  const network = await new Network().start();
  const started: StartedTestContainer[] = [];
  const track = <T extends { container: StartedTestContainer }>(p: Promise<T>) => p.then((r) => { started.push(r.container); return r; });
  const stop = async () => {
    await Promise.allSettled(started.map((c) => c.stop()));
    await network.stop().catch(() => {});
  };
  try {
    const [kafka, redis, clickhouse] = await Promise.all([track(startKafka(network)), track(startRedis()), track(startClickHouse())]);
    const registry = await track(startSchemaRegistry(network));
    const endpoints = { kafka: kafka.brokers, redis: redis.url, schemaRegistry: registry.url, clickhouse: clickhouse.url };
    return {
      ...endpoints,
      env: {
        TEST_KAFKA_BROKERS: endpoints.kafka,
        TEST_REDIS_URL: endpoints.redis,
        TEST_SCHEMA_REGISTRY_URL: endpoints.schemaRegistry,
        TEST_CLICKHOUSE_URL: endpoints.clickhouse,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
