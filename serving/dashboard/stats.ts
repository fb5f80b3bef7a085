// Live numbers for the dashboard: events per second per topic and event-to-view latency per processor.
//
// Both come from one sampler that looks at the pipeline from the outside, the way an operator would,
// so it works the same on the embedded log and on Kafka, in `darkroom start` and in `darkroom serve`:
//
// * Events per second: every tick reads each topic's end offsets (`backend.endOffsets`, the next offset
//   to be written per partition). Their sum only grows (retention drops old records, never offsets), so
//   the difference between two samples divided by the time between them is the topic's write rate.
//
// * Event-to-view latency: when a tick sees a partition's end offset move from a to b, it writes down a
//   mark "offset b-1 became visible at time t". Every tick also reads the offsets each processor's sink
//   holds (what is really in the views, not what was merely consumed). The first tick at which a
//   processor's sink holds offset >= b resolves the mark: one latency sample = now - t. So a sample is
//   "record visible on the processor's input topic" -> "its effects and offset committed in the sink",
//   the delay a reader of the view sees. Both instants are stamped by this one clock when a tick notices
//   them, each up to one tick late, so a single sample is within ±tickMs of the truth and quantized to
//   the tick (a processor that commits within 20 ms yields samples of 0 and of one tick). The two errors
//   are alike and cancel on average, so the mean over many samples is the real mean latency; the
//   percentiles are exact only to a tick, which is why the tick is short and reported with the numbers.
//   A record that passes through a repartition topic is measured per hop: the processor
//   after the hop counts from the moment the record reached the repartition topic.
//   Marks are kept until every processor reading the partition has passed them, so a processor that
//   falls behind shows a large latency instead of none.
import type { TopicBackend, TopicPartitionOffset } from '../../topics/types.ts';
import type { ProcessorStatusSource } from '../status.ts';
import { TOPICS } from '../../schemas/events.ts';

/** Topics product actions are written to; the headline rate is their sum (internal topics would count twice). */
const SOURCE_TOPICS: readonly string[] = Object.values(TOPICS).filter((t) => t !== TOPICS.deadLetters);

export interface DashboardStatsOptions {
  backend: TopicBackend;
  /** The processors whose sinks are watched; read at every tick (they may change after a restart). */
  processors: () => ProcessorStatusSource[];
  /** Topics whose rate is shown; defaults to the source topics, every processor input and dead letters. */
  topics?: () => string[];
  /** Time between two samples. */
  tickMs?: number;
  /** Rates are averaged over this window. */
  rateWindowMs?: number;
  /** Latency percentiles cover the samples resolved in this window. */
  latencyWindowMs?: number;
  /** The sampler stops itself when nobody asked for stats for this long (nobody looks at the page). */
  idleStopMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export interface TopicRate {
  /** source: product actions; internal: repartition and dead-letter topics the runtime writes. */
  kind: 'source' | 'internal';
  /** Records ever written to the topic (sum of end offsets). */
  total: number;
  /** Records per second over the rate window; null until two samples exist. */
  events_per_sec: number | null;
}

export interface LatencySummary {
  /** Samples resolved in the window. */
  samples: number;
  mean_ms: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  max_ms: number | null;
  /** The most recent sample, whenever it was taken. */
  last_ms: number | null;
  /** Oldest mark the processor has not reached yet: how long its newest-unseen data has waited. */
  waiting_ms: number;
}

export interface DashboardStats {
  /** When the last sample was taken (ms since epoch); null before the first. */
  sampled_at: number | null;
  tick_ms: number;
  /** How long the last sample took to take (end offsets of every topic, offsets of every sink). */
  tick_cost_ms: number | null;
  rate_window_ms: number;
  latency_window_ms: number;
  /** Product actions per second: the sum over the source topics. */
  events_per_sec: number | null;
  topics: Record<string, TopicRate>;
  latency: Record<string, LatencySummary>;
}

interface Mark { offset: number; at: number }
interface RateSample { at: number; totals: Map<string, number> }

const tpKey = (topic: string, partition: number) => `${topic}:${partition}`;
/** A mark per tick per partition at most; this bounds memory when a processor is stuck for long. */
const MAX_MARKS_PER_PARTITION = 4_000;

function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export class DashboardSampler {
  readonly tickMs: number;
  private readonly rateWindowMs: number;
  private readonly latencyWindowMs: number;
  private readonly idleStopMs: number;
  private readonly now: () => number;
  /** Last end offset seen per "topic:partition". */
  private readonly ends = new Map<string, number>();
  /** Offsets that became visible and the time they did, oldest first, per "topic:partition". */
  private readonly marks = new Map<string, Mark[]>();
  /** Per processor, per "topic:partition": offsets below this are already resolved into samples. */
  private readonly resolved = new Map<string, Map<string, number>>();
  private readonly samples = new Map<string, Array<{ at: number; ms: number }>>();
  private readonly lastSample = new Map<string, number>();
  private readonly waiting = new Map<string, number>();
  private rates: RateSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private lastAsked = 0;
  private lastError: string | undefined;
  private tickCostMs: number | null = null;

  constructor(private readonly options: DashboardStatsOptions) {
    this.tickMs = options.tickMs ?? 100;
    this.rateWindowMs = options.rateWindowMs ?? 3_000;
    this.latencyWindowMs = options.latencyWindowMs ?? 10_000;
    this.idleStopMs = options.idleStopMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** Starts sampling if it is not running; called by every stats request. */
  ensureRunning(): void {
    this.lastAsked = this.now();
    if (this.running) return;
    this.running = true;
    const loop = async () => {
      if (!this.running) return;
      if (this.now() - this.lastAsked > this.idleStopMs) { this.stop(); return; }
      this.ticking = this.tick().catch((error: Error) => { this.lastError = error.message; });
      await this.ticking;
      if (this.running) {
        this.timer = setTimeout(loop, this.tickMs);
        this.timer.unref?.();
      }
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    // A later start begins afresh: old marks would turn the pause into fake latency.
    this.ends.clear();
    this.marks.clear();
    this.resolved.clear();
    this.rates = [];
  }

  async close(): Promise<void> {
    this.stop();
    await this.ticking;
  }

  private topicsToWatch(processors: ProcessorStatusSource[]): string[] {
    if (this.options.topics) return this.options.topics();
    return [...new Set([...SOURCE_TOPICS, ...processors.flatMap((p) => [...p.inputs]), TOPICS.deadLetters])];
  }

  /** One sample: end offsets first, then sink offsets, so a mark can be resolved in the same tick. */
  async tick(): Promise<void> {
    const started = performance.now();
    const processors = this.options.processors();
    const topics = this.topicsToWatch(processors);
    // A topic that does not exist (yet) shows no rate rather than hiding every other one.
    const endsByTopic = await Promise.all(topics.map((t) => this.options.backend.endOffsets(t).catch(() => [] as TopicPartitionOffset[])));
    const seenAt = this.now();
    const totals = new Map<string, number>();
    topics.forEach((topic, i) => {
      if (endsByTopic[i]!.length === 0) return;
      let total = 0;
      for (const { partition, offset } of endsByTopic[i]!) {
        total += offset;
        const key = tpKey(topic, partition);
        const before = this.ends.get(key);
        this.ends.set(key, offset);
        // The first sight of a partition only sets the baseline: we do not know when those records came.
        if (before === undefined || offset <= before) continue;
        const marks = this.marks.get(key) ?? [];
        marks.push({ offset, at: seenAt });
        if (marks.length > MAX_MARKS_PER_PARTITION) marks.shift();
        this.marks.set(key, marks);
      }
      totals.set(topic, total);
    });
    this.rates.push({ at: seenAt, totals });
    while (this.rates.length > 2 && this.rates[1]!.at <= seenAt - this.rateWindowMs) this.rates.shift();

    const held = await Promise.all(processors.map((p) => p.offsets().catch(() => [] as TopicPartitionOffset[])));
    const doneAt = this.now();
    processors.forEach((p, i) => this.resolve(p, held[i]!, doneAt));
    this.prune(processors, doneAt);
    this.lastError = undefined;
    this.tickCostMs = Math.round((performance.now() - started) * 10) / 10;
  }

  private resolve(p: ProcessorStatusSource, held: TopicPartitionOffset[], at: number): void {
    const resolved = this.resolved.get(p.name) ?? new Map<string, number>();
    this.resolved.set(p.name, resolved);
    const samples = this.samples.get(p.name) ?? [];
    this.samples.set(p.name, samples);
    const inputs = new Set(p.inputs);
    let oldestWaiting = Infinity;
    for (const { topic, partition, offset } of held) {
      if (!inputs.has(topic)) continue;
      const key = tpKey(topic, partition);
      const from = resolved.get(key) ?? 0;
      for (const mark of this.marks.get(key) ?? []) {
        if (mark.offset <= from) continue;
        if (mark.offset > offset) { oldestWaiting = Math.min(oldestWaiting, mark.at); break; }
        samples.push({ at, ms: Math.max(0, at - mark.at) });
        this.lastSample.set(p.name, Math.max(0, at - mark.at));
      }
      resolved.set(key, Math.max(from, offset));
    }
    // Partitions the sink holds nothing for yet still count as waiting.
    const heldKeys = new Set(held.map((o) => tpKey(o.topic, o.partition)));
    for (const [key, marks] of this.marks) {
      const topic = key.slice(0, key.lastIndexOf(':'));
      if (inputs.has(topic) && !heldKeys.has(key) && marks.length) oldestWaiting = Math.min(oldestWaiting, marks[0]!.at);
    }
    this.waiting.set(p.name, Number.isFinite(oldestWaiting) ? at - oldestWaiting : 0);
    while (samples.length && samples[0]!.at < at - this.latencyWindowMs) samples.shift();
  }

  /** Drops marks every processor reading the partition has passed. */
  private prune(processors: ProcessorStatusSource[], _at: number): void {
    for (const [key, marks] of this.marks) {
      const topic = key.slice(0, key.lastIndexOf(':'));
      const readers = processors.filter((p) => p.inputs.includes(topic));
      const passed = readers.length === 0 ? Infinity : Math.min(...readers.map((p) => this.resolved.get(p.name)?.get(key) ?? 0));
      let drop = 0;
      while (drop < marks.length && marks[drop]!.offset <= passed) drop++;
      if (drop) marks.splice(0, drop);
    }
  }

  /** The numbers the dashboard shows; starts the sampler when it was idle. */
  snapshot(): DashboardStats & { error?: string } {
    this.ensureRunning();
    const latest = this.rates.at(-1);
    const oldest = this.rates[0];
    const seconds = latest && oldest && latest !== oldest ? (latest.at - oldest.at) / 1000 : 0;
    const topics: Record<string, TopicRate> = {};
    let sum: number | null = null;
    for (const [topic, total] of latest?.totals ?? []) {
      const before = oldest?.totals.get(topic);
      const rate = seconds > 0 && before !== undefined ? Math.max(0, total - before) / seconds : null;
      const kind = SOURCE_TOPICS.includes(topic) ? 'source' : 'internal';
      topics[topic] = { kind, total, events_per_sec: rate === null ? null : Math.round(rate * 10) / 10 };
      if (rate !== null && kind === 'source') sum = (sum ?? 0) + rate;
    }
    const latency: Record<string, LatencySummary> = {};
    for (const p of this.options.processors()) {
      const values = (this.samples.get(p.name) ?? []).map((s) => s.ms).sort((a, b) => a - b);
      latency[p.name] = {
        samples: values.length,
        mean_ms: values.length ? Math.round(values.reduce((a, b) => a + b, 0) / values.length) : null,
        p50_ms: percentile(values, 0.5),
        p95_ms: percentile(values, 0.95),
        max_ms: values.length ? values.at(-1)! : null,
        last_ms: this.lastSample.get(p.name) ?? null,
        waiting_ms: this.waiting.get(p.name) ?? 0,
      };
    }
    return {
      sampled_at: latest?.at ?? null,
      tick_ms: this.tickMs,
      tick_cost_ms: this.tickCostMs,
      rate_window_ms: this.rateWindowMs,
      latency_window_ms: this.latencyWindowMs,
      events_per_sec: sum === null ? null : Math.round(sum * 10) / 10,
      topics,
      latency,
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }
}
