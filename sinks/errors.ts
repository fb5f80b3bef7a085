// Errors of the sinks. Messages are one line and never carry credentials: a URL is shown without its
// user and password, so a log line or a terminal can be shared safely.

/** A sink refused or could not apply something; the message says what, for the person reading logs. */
export class SinkError extends Error {
  override name = 'SinkError';
}

/** The backing service (Redis, ClickHouse) could not be reached. */
export class SinkUnavailableError extends SinkError {
  override name = 'SinkUnavailableError';
}

/** `rediss://user:pass@host:6380/0` → `rediss://host:6380/0`; anything unparsable → `<invalid url>`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return '<invalid url>';
  }
}
