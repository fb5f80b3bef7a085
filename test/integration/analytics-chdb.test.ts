// The analytics store on chDB in-process (the embedded default): the shared contract in
// analytics-suite.ts, on a fresh data directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { analyticsStoreSuite } from './analytics-suite.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-analytics-'));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

analyticsStoreSuite('chdb', () => ({ dataDir }));
