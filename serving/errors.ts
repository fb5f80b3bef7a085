import type { ErrorRequestHandler, Response } from 'express';

/** Every error a client sees has this shape: {"error": {"code", "message", ...extra}}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendError(res: Response, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.status(error.status).json({ error: { code: error.code, message: error.message, ...error.extra } });
}

/** Maps body-parser failures to 4xx and anything unexpected to a 500 without internals. */
export function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    if (err instanceof HttpError) return sendError(res, err);
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      return sendError(res, new HttpError(413, 'payload_too_large', `request body exceeds ${(err as { limit: number }).limit} bytes`));
    }
    if (type === 'entity.parse.failed') {
      return sendError(res, new HttpError(400, 'invalid_json', 'request body is not valid JSON'));
    }
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      return sendError(res, new HttpError(415, 'unsupported_encoding', String((err as Error).message)));
    }
    if (typeof (err as { status?: number }).status === 'number' && (err as { status: number }).status < 500) {
      return sendError(res, new HttpError((err as { status: number }).status, 'bad_request', String((err as Error).message)));
    }
    log(`internal error: ${(err as Error)?.message ?? String(err)}`);
    return sendError(res, new HttpError(500, 'internal', 'internal error'));
  };
}
