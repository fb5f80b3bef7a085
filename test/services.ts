// Real services for integration tests. infra/ starts them as local processes on loopback (no Docker
// here); where a Docker engine exists, testcontainers can start them instead (see infra/README.md).
// Under CI=true a service that is not reachable fails the suite: a skipped Kafka test is not a pass.
import net from 'node:net';
import { describe } from 'vitest';

import { SERVICES, type ServiceName } from './service-endpoints.ts';

export { SERVICES, type ServiceName };

function hostPort(service: ServiceName): { host: string; port: number } {
  const value = SERVICES[service];
  const url = new URL(value.includes('://') ? value : `tcp://${value.split(',')[0]}`);
  return { host: url.hostname, port: Number(url.port) };
}

export function reachable(service: ServiceName, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPort(service);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const availability = new Map<ServiceName, boolean>();
for (const name of Object.keys(SERVICES) as ServiceName[]) {
  availability.set(name, await reachable(name));
}

/**
 * `describe` when every service is up; under CI=true a missing one throws (a failure), otherwise
 * the suite is skipped with the reason in its title so a developer sees what to start.
 */
export function describeWith(services: ServiceName[], title: string, body: () => void): void {
  const missing = services.filter((s) => !availability.get(s));
  if (missing.length === 0) { describe(title, body); return; }
  const reason = `${missing.join(', ')} not reachable at ${missing.map((s) => SERVICES[s]).join(', ')} (start with: bash infra/services.sh start)`;
  if (process.env.CI === 'true') {
    describe(title, () => { throw new Error(`CI=true and ${reason}`); });
  } else {
    describe.skip(`${title} [skipped: ${reason}]`, body);
  }
}
