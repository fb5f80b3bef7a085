// Property-based: whatever arrives at POST /v1/events (random JSON, wrong types, huge strings, deep
// nesting, bytes that are not UTF-8, unknown types, too many events, events from the future), the
// answer is a 4xx with a one-line message, never a 5xx nor a crash, and nothing reaches a topic.
// Real embedded log and file registry; the app is the one `darkroom start` serves.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestServer, type IngestServer } from '../helpers/ingest-server.ts';
import { tempDataDir } from '../helpers/tmp.ts';

let ingest: IngestServer;
let base: string;
const data = tempDataDir();
const internalErrors: string[] = [];
const RUNS = Number(process.env.FUZZ_RUNS ?? 60);

const totalRecords = () => ingest.totalRecords();

function post(body: string | Uint8Array, contentType = 'application/json') {
  return fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** Sends `body`, expects a 4xx with a clear one-line message; returns the status. */
async function expectRejected(body: string | Uint8Array, contentType?: string): Promise<number> {
  const res = await post(body, contentType);
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(res.status, text.slice(0, 300)).toBeLessThan(500);
  const parsed = JSON.parse(text) as { error: { code: string; message: string } };
  expect(parsed.error.code).toMatch(/^[a-z0-9_]+$/);
  expect(parsed.error.message.length).toBeGreaterThan(0);
  expect(parsed.error.message.length).toBeLessThan(500);
  expect(parsed.error.message).not.toMatch(/\n/);
  return res.status;
}

const valid = () => ({ type: 'like', user_id: 'u1', post_id: 'p1' });

beforeAll(async () => {
  ingest = await startIngestServer({ dataDir: data.dir, log: (line) => internalErrors.push(line), ingest: { maxBodyBytes: 8 * 1024 * 1024 } });
  base = ingest.base;
});

afterAll(async () => {
  await ingest?.close();
  data.remove();
});

describe('fuzzed HTTP ingest: 4xx, never 5xx, nothing written', () => {
  it('the valid baseline is accepted (so the rejections below are about the input)', async () => {
    const before = await totalRecords();
    expect((await post(JSON.stringify(valid()))).status).toBe(202);
    expect(await totalRecords()).toBe(before + 1);
  });

  it('random JSON values', async () => {
    const before = await totalRecords();
    await fc.assert(fc.asyncProperty(fc.jsonValue(), async (value) => {
      await expectRejected(JSON.stringify(value) ?? 'null');
    }), { numRuns: RUNS });
    expect(await totalRecords()).toBe(before);
  });

  it('objects that look like events: known types with random fields and values', async () => {
    const before = await totalRecords();
    const types = fc.constantFrom('follow', 'post_created', 'like', 'comment', 'story_created', 'reel_watched', 'profile_updated');
    const fields = fc.dictionary(
      fc.constantFrom('user_id', 'post_id', 'follower_id', 'followee_id', 'author_id', 'caption', 'media_type', 'ts', 'event_id',
        'watched_ms', 'duration_ms', 'is_private', 'hashtags', 'expires_at', 'story_id', 'text', 'comment_id', 'userId', '__proto__', 'constructor'),
      fc.oneof(fc.jsonValue(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 3 })),
    );
    await fc.assert(fc.asyncProperty(types, fields, async (type, rest) => {
      const body = JSON.stringify({ ...rest, type });
      const res = await post(body);
      expect(res.status, await res.clone().text()).toBeLessThan(500);
      if (res.status !== 202) await expectRejected(body);
    }), { numRuns: RUNS * 3 });
    // Random fields can form a valid event now and then: those were 202 and are the only records.
    expect(await totalRecords()).toBeGreaterThanOrEqual(before);
  });

  it('wrong types for every field of a valid event', async () => {
    const before = await totalRecords();
    const wrong = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue(), { maxKeys: 3 }));
    await fc.assert(fc.asyncProperty(fc.constantFrom('type', 'user_id', 'post_id', 'ts', 'event_id'), wrong, async (field, value) => {
      if (field === 'ts' && Number.isInteger(value) && (value as number) >= 0 && (value as number) < Date.now()) return; // a valid ts
      await expectRejected(JSON.stringify({ ...valid(), [field]: value }));
    }), { numRuns: RUNS });
    expect(await totalRecords()).toBe(before);
  });

  it('huge strings', async () => {
    const before = await totalRecords();
    await fc.assert(fc.asyncProperty(fc.constantFrom('user_id', 'post_id', 'type', 'event_id'), fc.integer({ min: 65, max: 2_000_000 }), async (field, length) => {
      await expectRejected(JSON.stringify({ ...valid(), [field]: 'x'.repeat(length) }));
    }), { numRuns: 20 });
    await expectRejected(JSON.stringify({ type: 'comment', comment_id: 'c', user_id: 'u', post_id: 'p', text: '🙂'.repeat(2_201) }));
    // Above the body limit: 413.
    expect(await expectRejected(JSON.stringify({ ...valid(), user_id: 'x'.repeat(9 * 1024 * 1024) }))).toBe(413);
    expect(await totalRecords()).toBe(before);
  });

  it('deep nesting', async () => {
    const before = await totalRecords();
    for (const depth of [1_000, 100_000, 1_000_000]) {
      await expectRejected(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      await expectRejected(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
      await expectRejected(JSON.stringify({ ...valid(), user_id: 0 }).replace('0', `${'['.repeat(depth)}${']'.repeat(depth)}`));
    }
    expect(await totalRecords()).toBe(before);
  });

  it('bytes that are not UTF-8, and random bytes', async () => {
    const before = await totalRecords();
    // A valid event whose user_id holds a lone 0xff: would silently become "u\uFFFD" if decoded leniently.
    const bad = Buffer.concat([Buffer.from('{"type":"like","user_id":"u'), Buffer.from([0xff, 0xfe]), Buffer.from('","post_id":"p1"}')]);
    const res = await post(bad);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('request body is not valid UTF-8');
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 2_000 }), async (bytes) => {
      await expectRejected(bytes);
    }), { numRuns: RUNS });
    await expectRejected(JSON.stringify(valid()), 'application/json; charset=latin1');
    expect(await totalRecords()).toBe(before);
  });

  it('unknown event types', async () => {
    const before = await totalRecords();
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 40 }).filter((t) => !['like', 'follow'].includes(t)), async (type) => {
      await expectRejected(JSON.stringify({ ...valid(), type }));
    }), { numRuns: RUNS });
    await expectRejected(JSON.stringify({ ...valid(), type: '__proto__' }));
    await expectRejected(JSON.stringify({ ...valid(), type: 'toString' }));
    expect(await totalRecords()).toBe(before);
  });

  it('10,001 events: 400, and none of the 10,000 valid ones before the excess is written', async () => {
    const before = await totalRecords();
    const events = Array.from({ length: 10_001 }, (_, i) => ({ type: 'like', user_id: `u${i}`, post_id: 'p1' }));
    const res = await post(JSON.stringify(events));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/at most 10000 events/);
    expect(await totalRecords()).toBe(before);
  });

  it('one bad event anywhere in a valid batch: 400 naming its index, nothing written', async () => {
    const before = await totalRecords();
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.jsonValue(), async (n, at, junk) => {
      const events: unknown[] = Array.from({ length: n }, (_, i) => ({ type: 'like', user_id: `u${i}`, post_id: 'p1' }));
      const index = at % n;
      events[index] = { type: 'like', user_id: junk, post_id: 'p1' };
      if (typeof junk === 'string' && junk.length > 0 && junk.length <= 64) return; // that one is valid
      const res = await post(JSON.stringify(events));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { index: number } }).error.index).toBe(index);
    }), { numRuns: RUNS });
    expect(await totalRecords()).toBe(before);
  });

  it('no request made the server log an internal error', () => {
    expect(internalErrors).toEqual([]);
  });
});

describe('event time at ingest', () => {
  it('a ts more than 5 minutes in the future is refused with 400 naming the event; nothing written', async () => {
    const before = await totalRecords();
    const future = Date.now() + 2 * 3_600_000 + 60_000;
    const res = await post(JSON.stringify([valid(), { ...valid(), ts: future }]));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { index: number; message: string } };
    expect(body.error.index).toBe(1);
    expect(body.error.message).toMatch(/^events\[1\]\.ts: is 2\.0 h ahead of the server clock; at most 5\.0 min is allowed$/);
    expect(await totalRecords()).toBe(before);
  });

  it('small skew and very old events are accepted and keep their time', async () => {
    const before = await totalRecords();
    const consumer = ingest.backend.consumer({ groupId: 'fuzz-ingest-ts', topics: ['engagement'], reset: 'latest' });
    const seen: number[] = [];
    await consumer.run({ eachBatch: async (b) => { for (const r of b.records) seen.push(r.timestamp); } });
    const old = Date.now() - 30 * 24 * 3_600_000;
    const soon = Date.now() + 60_000;
    const res = await post(JSON.stringify([{ ...valid(), ts: old }, { ...valid(), ts: soon }]));
    expect(res.status).toBe(202);
    expect(await totalRecords()).toBe(before + 2);
    const deadline = Date.now() + 5_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await consumer.stop();
    expect(seen.sort()).toEqual([old, soon].sort());
  });
});
