// A ClickHouse-compatible HTTP endpoint served by the real ClickHouse engine in-process (chDB), for
// tests and development where no ClickHouse server can be installed. See infra/README.md.
//
//   node --import tsx infra/clickhouse-http/server.ts --path <data dir> [--port 18123] [--host 127.0.0.1]
//
// Prints one "listening" line once the engine has opened its data and the port accepts requests.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openEngine } from './engine.ts';
import { clickhouseHttpHandler } from './http-interface.ts';

function usage(message: string): never {
  process.stderr.write(`clickhouse-http: ${message}\nusage: node --import tsx infra/clickhouse-http/server.ts --path <data dir> [--port 18123] [--host 127.0.0.1]\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({ options: { path: { type: 'string' }, port: { type: 'string', default: '18123' }, host: { type: 'string', default: '127.0.0.1' } } }).values;
} catch (error) {
  usage((error as Error).message);
}
if (!args.path) usage('--path is required (the chDB data directory)');
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port must be a port number, got "${args.port}"`);

const dataDir = path.resolve(args.path);
fs.mkdirSync(dataDir, { recursive: true });
const log = (line: string) => process.stderr.write(`${new Date().toISOString()} clickhouse-http: ${line}\n`);

const engine = await openEngine(dataDir);
const server = http.createServer(clickhouseHttpHandler({ engine, log }));
// The server announces `Keep-Alive: timeout=10`, like ClickHouse; the client retires idle sockets before.
server.keepAliveTimeout = 10_000;
server.requestTimeout = 0; // long INSERTs and queries are the client's to time out (request_timeout)
server.once('error', (error: NodeJS.ErrnoException) => {
  log(error.code === 'EADDRINUSE' ? `${args.host}:${port} is already in use` : `cannot listen on ${args.host}:${port}: ${error.message}`);
  process.exit(1);
});
server.listen(port, args.host, () => {
  const address = server.address() as { port: number };
  process.stdout.write(`clickhouse-http listening on http://${args.host}:${address.port} (chDB ${engine.version}, data ${dataDir})\n`);
});

let closing = false;
function shutdown(): void {
  if (closing) return;
  closing = true;
  server.close(() => { engine.close(); process.exit(0); });
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 5_000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
