import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: pino.LevelWithSilent, name = 'seckill'): Logger {
  return pino({ name, level });
}
