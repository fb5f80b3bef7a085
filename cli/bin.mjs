#!/usr/bin/env -S node --max-semi-space-size=64
// The `darkroom` command. TypeScript sources run through tsx, so a fresh clone needs no build step.
// A 64 MB young-generation semi-space (V8's default is 16 MB): a processor batch keeps up to 1.5M
// effect objects alive until its sink commits, and in the default space the scavenger copied and
// promoted them again and again (replay 1M events / 100k users: ~23k -> ~30k events/s; see
// bench/RESULTS.md). V8 reads the flag only at start, so it is on the command line, not set here.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
