// Replay: rebuild views from offset 0 of the topics into a new generation while serving keeps reading
// the current one, then switch in one atomic pointer update and drop the old generation.
//
// A rebuild needs nothing from the runtime: it is `startPipeline` with fresh processors, its own
// consumer groups (`darkroom-replay-<gen>`) and sinks writing the new generation. That generation
// holds no offsets, so every processor starts at offset 0. Live ingest goes on throughout: the live
// pipeline keeps the old generation current, the rebuild follows the same topics into the new one,
// and since each generation has its own offsets, nothing is lost or counted twice across the switch.
//
// The parts: plan.ts (what a replay covers), batching.ts, rebuild.ts (a rebuild and its progress),
// snapshots.ts, live-views.ts (inside the running platform), standalone.ts (from another process),
// verify.ts.
export * from './plan.ts';
export * from './batching.ts';
export * from './rebuild.ts';
export * from './snapshots.ts';
export * from './live-views.ts';
export * from './standalone.ts';
export * from './verify.ts';
