import pino from 'pino';

export type Logger = pino.Logger;

/** Services log to stdout; commands whose stdout is their result (the simulator's report) log to stderr. */
export function createLogger(
  level: pino.LevelWithSilent,
  name = 'seckill',
  to: 'stdout' | 'stderr' = 'stdout',
): Logger {
  return pino({ name, level }, pino.destination(to === 'stdout' ? 1 : 2));
}
