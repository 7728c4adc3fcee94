// Loads the Lua scripts (one file each, header lists KEYS/ARGV/returns) as ioredis commands, sent by EVALSHA.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

const SCRIPTS = {
  acquireLock: { file: 'acquire-lock.lua', keys: 2 },
  fencedTake: { file: 'fenced-take.lua', keys: 3 },
  releaseLock: { file: 'release-lock.lua', keys: 1 },
  takeIfPositive: { file: 'take-if-positive.lua', keys: 2 },
  giveBack: { file: 'give-back.lua', keys: 3 },
} as const;

type ScriptName = keyof typeof SCRIPTS;
export type StockRedis = Redis & Record<ScriptName, (...args: (string | number)[]) => Promise<number>>;

export function withStockScripts(redis: Redis): StockRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    if (typeof (redis as unknown as Record<string, unknown>)[name] === 'function') continue;
    const lua = readFileSync(join(__dirname, 'lua', script.file), 'utf8');
    redis.defineCommand(name, { numberOfKeys: script.keys, lua });
  }
  return redis as StockRedis;
}
