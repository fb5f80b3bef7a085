// Wakes idle consumers. A produce in this process rings at once; records from other processes are
// found by the poll timeout. `rings` closes the race between "read found nothing" and "start waiting":
// a waiter passes the count it saw before reading and returns at once if a ring came in between.
export class Doorbell {
  rings = 0;
  private readonly waiters = new Set<() => void>();

  ring(): void {
    this.rings++;
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves true when rung (now or since `seen`), false after `timeoutMs`. */
  wait(timeoutMs: number, seen: number): Promise<boolean> {
    if (this.rings !== seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (rung: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(rung);
      };
      const wake = () => finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(wake);
    });
  }
}
