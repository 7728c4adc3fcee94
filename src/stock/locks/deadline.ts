// A lock service that stops answering must turn into an error (503 busy), never a purchase that waits for ever.
export class LockServiceTimeout extends Error {}

export function withDeadline<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LockServiceTimeout(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** How long one call to a lock service may take before the purchase gives up on it. */
export const LOCK_CALL_TIMEOUT_MS = 1000;
