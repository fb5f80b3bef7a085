// Pure parts of the hardening: token buckets, the future-skew rule, the read-only SQL guard, and the
// constant-time token check.
import { describe, expect, it } from 'vitest';
import { createRateLimiter, futureEventError, eventCount } from '../../serving/hardening.ts';
import { tokenMatcher } from '../../serving/auth.ts';
import { assertReadOnlySql, ReadOnlyViolation } from '../../sinks/analytics/read-only.ts';
import type { DarkroomEvent } from '../../schemas/events.ts';

describe('rate limiter: token bucket per key, counted in events', () => {
  it('lets a second\'s worth through, then refuses with Retry-After until it refills', () => {
    let t = 0;
    const limiter = createRateLimiter({ eventsPerSecond: 100, now: () => t });
    expect(limiter.take('a', 60)).toEqual({ ok: true });
    expect(limiter.take('a', 40)).toEqual({ ok: true });
    expect(limiter.take('a', 1)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(limiter.take('b', 100)).toEqual({ ok: true }); // per key
    t += 500;
    expect(limiter.take('a', 50)).toEqual({ ok: true });
    expect(limiter.take('a', 50)).toMatchObject({ ok: false });
  });

  it('a request bigger than the bucket passes when full, leaving a debt that holds the average rate', () => {
    let t = 0;
    const limiter = createRateLimiter({ eventsPerSecond: 100, now: () => t });
    expect(limiter.take('a', 1_000)).toEqual({ ok: true });
    expect(limiter.take('a', 1)).toEqual({ ok: false, retryAfterSeconds: 10 });
    t += 10_000;
    expect(limiter.take('a', 1)).toEqual({ ok: true });
  });

  it('counts a batch as its number of events', () => {
    expect(eventCount([{}, {}, {}])).toBe(3);
    expect(eventCount({ type: 'like' })).toBe(1);
    expect(eventCount([])).toBe(1);
  });

  it('keeps a bounded number of keys', () => {
    let t = 0;
    const limiter = createRateLimiter({ eventsPerSecond: 10, now: () => t, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) { limiter.take(`k${i}`, 1); t += 1_000; }
    // No assertion on internals beyond "did not throw"; the map is swept of refilled buckets.
    expect(limiter.take('k999', 10)).toEqual({ ok: true });
  });
});

describe('event time: no events from the future', () => {
  const at = (ts: number) => ({ type: 'like', event_id: 'e', ts, user_id: 'u', post_id: 'p' }) as DarkroomEvent;
  const NOW = 1_800_000_000_000;
  it('refuses ts further ahead than the allowed skew, naming the event', () => {
    expect(futureEventError([at(NOW), at(NOW + 2 * 3_600_000)], NOW, 300_000, true)).toEqual({
      index: 1, message: 'events[1].ts: is 2.0 h ahead of the server clock; at most 5.0 min is allowed',
    });
  });
  it('accepts small clock skew and any past ts', () => {
    expect(futureEventError([at(NOW + 299_000), at(NOW - 365 * 24 * 3_600_000), at(0)], NOW, 300_000, true)).toBeUndefined();
  });
});

describe('read-only SQL guard', () => {
  const refused = [
    "SELECT * FROM file('/etc/passwd')",
    "select * from FILE('/etc/passwd', 'LineAsString')",
    "SELECT * FROM `file`('/etc/passwd')",
    "SELECT * FROM \"url\"('http://127.0.0.1:1/', 'CSV')",
    "SELECT * FROM url ('http://127.0.0.1:1/')",
    "SELECT * FROM url/* c */('http://127.0.0.1:1/')",
    "SELECT file('/etc/passwd')",
    "SELECT * FROM s3('https://bucket/x')",
    "SELECT * FROM s3Cluster('c', 'https://bucket/x')",
    "SELECT * FROM icebergS3('https://bucket/x')",
    "SELECT * FROM remote('10.0.0.1', system.one)",
    "SELECT * FROM remoteSecure('10.0.0.1', system.one)",
    "SELECT * FROM mysql('h:3306', 'db', 't', 'u', 'p')",
    "SELECT * FROM postgresql('h:5432', 'db', 't', 'u', 'p')",
    "SELECT * FROM executable('ls', 'TSV', 'x String')",
    "SELECT * FROM hdfs('hdfs://h/x')",
    "SELECT * FROM azureBlobStorage('x')",
    "SELECT * FROM sqlite('/tmp/x.db', 't')",
    "SELECT * FROM jdbc('x', 't')",
    "SELECT * FROM odbc('x', 't')",
    "SELECT * FROM mongodb('h', 'db', 'c', 'u', 'p', 'x String')",
    "SELECT * FROM redis('h:6379', 'k', 'k String')",
    "SELECT * FROM input('x String')",
    "INSERT INTO events (topic) VALUES ('x')",
    "insert into events select * from events",
    "ALTER TABLE events DELETE WHERE 1",
    "CREATE TABLE x (a Int8) ENGINE = Memory",
    "DROP TABLE events",
    "TRUNCATE TABLE events",
    "SYSTEM SHUTDOWN",
    "SET readonly = 0",
    "SELECT 1; DROP TABLE events",
    "SELECT * FROM events INTO OUTFILE '/tmp/x'",
    "WITH x AS (SELECT 1) INSERT INTO events SELECT * FROM x",
    "KILL QUERY WHERE 1",
    "GRANT ALL ON *.* TO x",
    "SELECT 'unterminated",
    '',
    '  ; ',
  ];
  it.each(refused)('refuses %j with one line', (sql) => {
    expect(() => assertReadOnlySql(sql)).toThrow(ReadOnlyViolation);
    try { assertReadOnlySql(sql); } catch (error) { expect((error as Error).message).toMatch(/^query refused: [^\n]+$/); }
  });

  const allowed = [
    'SELECT type, count() FROM events GROUP BY type',
    "SELECT count() FROM events WHERE caption LIKE '%insert into%' OR caption = 'file(''/etc/passwd'')'",
    "SELECT * FROM events WHERE topic = 'x' -- DROP TABLE events\n LIMIT 1",
    'WITH t AS (SELECT 1 AS a) SELECT a FROM t;',
    'SHOW TABLES',
    'DESCRIBE TABLE events',
    'EXPLAIN SELECT 1',
    '(SELECT 1) UNION ALL (SELECT 2)',
    "SELECT replaceAll(caption, 'a', 'b'), toStartOfMinute(ts) AS profile FROM events",
    'SELECT filename FROM events', // a column named like a function, but not a call
  ];
  it.each(allowed)('allows %j', (sql) => {
    expect(() => assertReadOnlySql(sql)).not.toThrow();
  });
});

describe('tokens are compared in constant time', () => {
  it('matches only the exact token', () => {
    const matches = tokenMatcher('s3cret');
    expect(matches('s3cret')).toBe(true);
    expect(matches('s3cre')).toBe(false);
    expect(matches('s3cret ')).toBe(false);
    expect(matches('')).toBe(false);
  });

  /**
   * A direct `===` (or a byte loop) returns at the first differing character: on a long token, a
   * guess with the right prefix takes measurably longer than one wrong from the first byte, which is
   * what a timing attack measures. Hashed + timingSafeEqual, both take the same time.
   */
  it('takes as long for a near miss as for a guess wrong from the first character', () => {
    const secret = 'x'.repeat(8 * 1024 * 1024);
    const matches = tokenMatcher(secret);
    const nearMiss = `${'x'.repeat(secret.length - 1)}y`;
    const farMiss = `y${'x'.repeat(secret.length - 1)}`;
    const median = (guess: string) => {
      const times: number[] = [];
      for (let i = 0; i < 9; i++) {
        const started = process.hrtime.bigint();
        matches(guess);
        times.push(Number(process.hrtime.bigint() - started));
      }
      return times.sort((a, b) => a - b)[4];
    };
    median(nearMiss); median(farMiss); // warm up
    const near = median(nearMiss);
    const far = median(farMiss);
    expect(Math.min(near, far) / Math.max(near, far)).toBeGreaterThan(0.5);
  });
});
