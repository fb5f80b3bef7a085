// Out-of-order events: every yes/no fact of the graph (U follows A, B blocks X, U is private) keeps
// the event time of the last event that set it, and an event older than that is stale and ignored:
// event-time last-writer-wins per edge. So an unfollow that arrives after a newer follow does not
// cancel it, and a follow that arrives after a newer unfollow does not resurrect the edge (the unfollow
// leaves a tombstone). Ties go to the event processed later, i.e. offset order.
//
// A stamp packs the fact and its time into one number, so millions of them fit in a Float64Array:
// on at ts → ts (>= 0); off at ts → -ts - 1 (< 0). Event times are ms since epoch, never negative.

export type Stamp = number;

export const stampOn = (ts: number): Stamp => Math.max(0, ts);
export const stampOff = (ts: number): Stamp => -Math.max(0, ts) - 1;
export const isOn = (stamp: Stamp | undefined): boolean => stamp !== undefined && stamp >= 0;
export const stampTime = (stamp: Stamp): number => (stamp >= 0 ? stamp : -stamp - 1);

/** True when an event at `ts` is older than the last event that set this fact. */
export const isStale = (stamp: Stamp | undefined, ts: number): boolean =>
  stamp !== undefined && stampTime(stamp) > ts;
