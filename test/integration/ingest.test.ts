// POST /v1/events against the real embedded log and file registry: validation, auth, size limits,
// and that a rejected request writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngestServer, type IngestServer } from '../helpers/ingest-server.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const TOKEN = 's3cret-token';
let ingest: IngestServer;
let base: string;
const data = tempDataDir();
const totalRecords = () => ingest.totalRecords();

function post(body: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, ...headers },
    body,
  });
}

const like = (i: number) => ({ type: 'like', user_id: `u${i}`, post_id: 'p1' });

beforeAll(async () => {
  ingest = await startIngestServer({ dataDir: data.dir, apiToken: TOKEN, ingest: { maxBodyBytes: 64 * 1024 } });
  base = ingest.base;
});

afterAll(async () => {
  await ingest?.close();
  data.remove();
});

describe('POST /v1/events', () => {
  it('accepts one event and an array, 202 with the count, once durable', async () => {
    const before = await totalRecords();
    let res = await post(JSON.stringify(like(1)));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1 });
    res = await post(JSON.stringify([like(2), { type: 'follow', follower_id: 'u1', followee_id: 'u2' }]));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 2 });
    expect(await totalRecords()).toBe(before + 3);
  });

  it('rejects a request with one invalid event: 400 with message and index, nothing written', async () => {
    const before = await totalRecords();
    const res = await post(JSON.stringify([like(3), like(4), { type: 'like', user_id: '', post_id: 'p1' }]));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: string; index: number; message: string } };
    expect(body.error.code).toBe('invalid_event');
    expect(body.error.index).toBe(2);
    expect(body.error.message).toMatch(/user_id/);
    expect(await totalRecords()).toBe(before);
  });

  it('rejects unknown event types and unknown fields', async () => {
    let res = await post(JSON.stringify({ type: 'teleport', user_id: 'u1' }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; index: number } }).error.index).toBe(0);
    res = await post(JSON.stringify({ ...like(1), color: 'red' }));
    expect(res.status).toBe(400);
  });

  it('answers 400 for an empty body, saying so', async () => {
    const res = await post('');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('the request body is empty: send one event object or an array of events');
  });

  it('answers 400 invalid_json for a body that is not JSON', async () => {
    const res = await post('{"type": "like",');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; index: number } }).error.code).toBe('invalid_json');
  });

  it('answers 413 for a body over the size limit, and writes nothing', async () => {
    const before = await totalRecords();
    const events = Array.from({ length: 2000 }, (_, i) => like(i));
    const res = await post(JSON.stringify(events));
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string; index: number } }).error.code).toBe('payload_too_large');
    expect(await totalRecords()).toBe(before);
  });

  it('answers 401 without the token or with a wrong one', async () => {
    let res = await post(JSON.stringify(like(1)), { authorization: '' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string; index: number } }).error.code).toBe('unauthorized');
    res = await post(JSON.stringify(like(1)), { authorization: 'Bearer nope' });
    expect(res.status).toBe(401);
    // The scheme is case-insensitive (RFC 9110), the token is not.
    expect((await post(JSON.stringify(like(1)), { authorization: `bearer ${TOKEN}` })).status).toBe(202);
    expect((await post(JSON.stringify(like(1)), { authorization: `Bearer ${TOKEN.toUpperCase()}` })).status).toBe(401);
  });

  it('assigns event_id and ts when absent, and keeps them when given', async () => {
    const consumer = ingest.backend.consumer({ groupId: 'ingest-test-ids', topics: ['social-graph'], reset: 'latest' });
    const seen: unknown[] = [];
    await consumer.run({ eachBatch: async (b) => { seen.push(...b.records); } });
    const res = await post(JSON.stringify({ type: 'follow', follower_id: 'u7', followee_id: 'u8', event_id: '6f1b8a52-4c3e-4a7e-9d55-0b6f3c2a1e90', ts: 1_700_000_000_000 }));
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    await consumer.stop();
    expect(seen.length).toBe(1);
    expect((seen[0] as { timestamp: number }).timestamp).toBe(1_700_000_000_000);
  });
});
