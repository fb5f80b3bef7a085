// HTTP hardening on a real server: per-token rate limits on ingest (429 + Retry-After, nothing
// written), and request timeouts that cut off a client trickling its headers (slowloris).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpServer, createRateLimiter } from '../../serving/hardening.ts';
import { startIngestServer, type IngestServer } from '../helpers/ingest-server.ts';
import { tempDataDir } from '../helpers/tmp.ts';

const data = tempDataDir();
let ingest: IngestServer;
let base: string;
let port: number;
const RATE = 100;

const totalRecords = () => ingest.totalRecords();

const likes = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ type: 'like', user_id: `u${i}`, post_id: 'p1' })));
const post = (body: string, token: string) => fetch(`${base}/v1/events`, {
  method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body,
});

beforeAll(async () => {
  ingest = await startIngestServer({
    dataDir: data.dir,
    ingest: {
      maxBodyBytes: 1024 * 1024,
      rateLimit: { limiter: createRateLimiter({ eventsPerSecond: RATE }), eventsPerSecond: RATE },
    },
    listen: (app) => createHttpServer(app, { requestTimeoutMs: 1_000, headersTimeoutMs: 500 }).listen(0, '127.0.0.1'),
  });
  ({ base, port } = ingest);
});

afterAll(async () => {
  await ingest?.close();
  data.remove();
});

describe('ingest rate limit per token', () => {
  it('a second\'s worth of events passes; more is 429 with Retry-After and writes nothing; other tokens are not affected', async () => {
    const before = await totalRecords();
    expect((await post(likes(RATE), 'client-a')).status).toBe(202);
    const res = await post(likes(20), 'client-a');
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/100 events\/s per token/);
    expect(await totalRecords()).toBe(before + RATE);
    expect((await post(likes(10), 'client-b')).status).toBe(202);
  });

  it('after Retry-After the token may send again', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await post(likes(50), 'client-a')).status).toBe(202);
  });
});

describe('request timeouts', () => {
  /** Opens a socket, sends part of a request, keeps trickling; resolves with what the server answered and when. */
  function slowClient(parts: string[], everyMs: number): Promise<{ response: string; closedAfterMs: number }> {
    return new Promise((resolve) => {
      const started = Date.now();
      const socket = net.connect(port, '127.0.0.1');
      let response = '';
      let i = 0;
      const timer = setInterval(() => { if (i < parts.length && !socket.destroyed) socket.write(parts[i++]); }, everyMs);
      socket.on('data', (d) => { response += d.toString(); });
      socket.on('error', () => {});
      socket.on('close', () => { clearInterval(timer); resolve({ response, closedAfterMs: Date.now() - started }); });
      setTimeout(() => socket.destroy(), 10_000);
    });
  }

  it('a client trickling its headers is answered 408 and disconnected within the headers timeout', async () => {
    const headers = ['POST /v1/events HTTP/1.1\r\n', 'Host: x\r\n', ...Array.from({ length: 50 }, (_, i) => `X-Slow-${i}: y\r\n`)];
    const { response, closedAfterMs } = await slowClient(headers, 200);
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)).error.code).toBe('request_timeout');
    expect(closedAfterMs).toBeLessThan(3_000);
  });

  it('a request that is not HTTP is answered 400 with the JSON error shape', async () => {
    const { response } = await slowClient(['NOT HTTP AT ALL\r\n\r\n'], 10);
    expect(response).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))).toEqual({ error: { code: 'bad_request', message: 'the request is not valid HTTP/1.1' } });
  });

  it('a client trickling its body is cut off within the request timeout', async () => {
    const body = likes(5);
    const head = `POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer client-c\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { response, closedAfterMs } = await slowClient([head, ...body.match(/.{1,5}/g)!], 200);
    expect(response).not.toMatch(/202/);
    expect(closedAfterMs).toBeLessThan(4_000);
  });
});
