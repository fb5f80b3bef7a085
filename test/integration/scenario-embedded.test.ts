// The processors' scenario suite (test/helpers/scenario.ts) on the embedded engines: lmdb log, lmdb
// view store, chDB.
import { runScenarioSuite } from '../helpers/scenario.ts';

runScenarioSuite('embedded');
