// Lua scripts kept as files (<dir>/<kebab-name>.lua) and registered on a Redis client as commands (ioredis's
// defineCommand: sent by EVALSHA, loaded again on NOSCRIPT). The stock and the waiting room each keep theirs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from './redis';

/** The source of <dir>/<file>.lua for a script named in camelCase. */
export const readLuaFile = (dir: string, name: string) =>
  readFileSync(join(dir, name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) + '.lua'), 'utf8');

/**
 * Registers each script (name → number of KEYS) as the command `commandOf(name)`, once per client (a client shared
 * by several users already has them).
 */
export function defineScripts(
  redis: RedisClient,
  dir: string,
  scripts: Record<string, number>,
  commandOf: (name: string) => string = (name) => name,
): void {
  for (const [name, numberOfKeys] of Object.entries(scripts)) {
    const command = commandOf(name);
    if (typeof (redis as unknown as Record<string, unknown>)[command] === 'function') continue;
    redis.defineCommand(command, { numberOfKeys, lua: readLuaFile(dir, name) });
  }
}
