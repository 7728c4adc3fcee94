// A redis-server of the test's own on a free port, so a test can kill it (-9), restart it empty on the same port, or
// change its ACL, without touching the Redis other tests share. The simulator's launcher starts it (it keeps nothing on
// disk, so a restart comes back empty); tests call it by its URL.
import { startRedisServer, type LockServer } from '../../src/sim/lock-servers';

export interface PrivateRedis extends LockServer {
  url: string;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const server = await startRedisServer();
  return { ...server, url: server.address };
}
