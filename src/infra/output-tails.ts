// The last few kilobytes each child process wrote (and each logger pointed here), by source name. Kept so that a
// failure can show what led to it: `npm test` prints them under a failed test, since a failure seen once in CI must
// be readable from CI's output alone. Held on globalThis so that the test runner, which loads its own copy of this
// module, reads the same tails as the test that wrote them.
const TAIL_CHARS = 8_000;
const TAILS_KEY = Symbol.for('seckill.outputTails');

type Tails = Map<string, string>;

function tails(): Tails {
  const holder = globalThis as { [TAILS_KEY]?: Tails };
  return (holder[TAILS_KEY] ??= new Map());
}

export function recordOutput(source: string, chunk: string): void {
  const all = tails();
  all.set(source, ((all.get(source) ?? '') + chunk).slice(-TAIL_CHARS));
}

export function outputOf(source: string): string {
  return tails().get(source) ?? '';
}

/** Every source's tail, oldest source first. */
export function recentOutput(holder: object = globalThis): [string, string][] {
  return [...((holder as { [TAILS_KEY]?: Tails })[TAILS_KEY] ?? new Map()).entries()];
}

/** A pino destination that keeps the log lines as `source`'s tail. */
export function tailDestination(source: string): { write(line: string): void } {
  return { write: (line) => recordOutput(source, line) };
}
