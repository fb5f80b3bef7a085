// The processors' scenario suite (test/helpers/scenario.ts) on the scale-out engines: Kafka, Redis,
// and the ClickHouse engine in-process (chDB).
import { describeWith } from '../services.ts';
import { runScenarioSuite } from '../helpers/scenario.ts';

describeWith(['kafka', 'redis'], 'scenario on Kafka + Redis + ClickHouse engine', () => runScenarioSuite('kafka-redis'));
