// Errors a user can cause end the command with one clear line and a non-zero exit, never a stack dump.
// Set DARKROOM_DEBUG=1 to see the stack of an unexpected error.
import { debugEnabled } from './config.ts';

/** An error whose message is meant for the person at the terminal. */
export class UserError extends Error {}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
};

export function describeError(error: unknown): string {
  const err = error as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err?.code === 'EADDRINUSE') return `port ${err.port ?? ''} is already in use; set PORT to another port`.replace('  ', ' ');
  if (err?.code === 'ENOSPC') return 'the disk is full: free space under DARKROOM_DATA_DIR or point it elsewhere';
  if (err?.code === 'EACCES') return `permission denied: ${err.message}`;
  if (err?.code && NETWORK_CODES[err.code]) return `${NETWORK_CODES[err.code]}: ${err.message}`;
  return err?.message ?? String(error);
}

export function exitWithError(error: unknown): never {
  const expected = error instanceof UserError || (error as { name?: string })?.name === 'ConfigError';
  process.stderr.write(`darkroom: ${describeError(error)}\n`);
  if (!expected && debugEnabled()) process.stderr.write(`${(error as Error)?.stack}\n`);
  process.exit(1);
}
