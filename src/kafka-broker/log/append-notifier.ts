interface Waiter {
  keys: ReadonlySet<string>;
  wake: () => void;
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Parks long-poll Fetch requests until one of their partitions gets data, the deadline passes or stop. */
export class AppendNotifier {
  private readonly waiters = new Set<Waiter>();

  waitForAppend(partitions: { topic: string; partition: number }[], timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        keys: new Set(partitions.map(({ topic, partition }) => partitionKey(topic, partition))),
        wake: () => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  notify(topic: string, partition: number): void {
    const key = partitionKey(topic, partition);
    for (const waiter of this.waiters) if (waiter.keys.has(key)) waiter.wake();
  }

  wakeAll(): void {
    for (const waiter of this.waiters) waiter.wake();
  }
}
