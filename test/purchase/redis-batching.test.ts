// The request path's Redis client sends the commands of one event-loop tick in one socket write, in order, and keeps
// doing so across a server killed and restarted (the crowd-level faults are in redis-truth.test.ts).
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { createRedis } from '../../src/infra/redis';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server';
import { waitFor } from '../support/stack';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis();
});
afterAll(async () => {
  redis?.disconnect();
  await server.stop();
});

const ready = () => waitFor('the client ready', async () => redis.status === 'ready');

/** Counts the writes that reach the socket (one per _write or _writev: one system call each). */
function countSocketWrites(socket: Socket): () => number {
  let writes = 0;
  const streamWrites = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const method of ['_write', '_writev'] as const) {
    const original = streamWrites[method].bind(socket);
    streamWrites[method] = (...args: unknown[]) => {
      writes++;
      return original(...args);
    };
  }
  return () => writes;
}

test('the commands of one tick leave in one write and are answered in order', async () => {
  redis = createRedis(server.url) as Redis;
  await ready();
  const writes = countSocketWrites(redis.stream as Socket);
  const replies = await Promise.all(Array.from({ length: 100 }, () => redis.incr('batched')));
  expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  expect(writes()).toBe(1);

  // One tick after another: a write each.
  for (let i = 0; i < 3; i++) await redis.incr('batched');
  expect(writes()).toBe(4);
  expect(await redis.get('batched')).toBe('103');
});

test('after the server was killed and restarted, commands of one tick still leave together and nothing is left corked', async () => {
  redis ??= createRedis(server.url) as Redis;
  await ready();
  const before = redis.stream as Socket;
  await server.kill();
  await waitFor('the client to see the server gone', async () => redis.status !== 'ready');
  await server.restart();
  await ready();
  expect(redis.stream).not.toBe(before); // a new connection
  const writes = countSocketWrites(redis.stream as Socket);
  const replies = await Promise.all(Array.from({ length: 50 }, () => redis.incr('after-restart-count')));
  expect(replies.at(-1)).toBe(50);
  expect(writes()).toBe(1);
  expect((redis.stream as Socket).writableCorked).toBe(0);
});
