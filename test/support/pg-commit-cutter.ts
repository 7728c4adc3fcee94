// A TCP proxy between the service and PostgreSQL that, once armed, cuts the connection right after forwarding a
// COMMIT: the server commits, the client never hears it. The worst moment for a writer to lose its connection.
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';

/** A simple-protocol Query message for COMMIT: 'Q', int32 length, "COMMIT\0" (node-postgres sends it this way). */
const COMMIT_QUERY = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0, 11]), Buffer.from('COMMIT\0')]);

export interface CommitCutter {
  url(database: string): string;
  /** Cut the next COMMIT that passes; resolves the returned promise once it was cut. */
  armOnce(): Promise<void>;
  cuts: number;
  stop(): Promise<void>;
}

export async function startCommitCutter(target = { host: '127.0.0.1', port: 5432 }): Promise<CommitCutter> {
  const sockets = new Set<Socket>();
  let armed: (() => void) | undefined;
  const state = { cuts: 0 };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('data', (chunk: Buffer) => {
      const fire = armed && chunk.includes(COMMIT_QUERY);
      upstream.write(chunk, () => {
        if (!fire) return;
        // Give the server the moment it needs to read the COMMIT, then cut both sides before any reply passes.
        client.pause();
        upstream.pause();
        setTimeout(close, 5);
      });
      if (fire) {
        state.cuts++;
        const done = armed!;
        armed = undefined;
        done();
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: (database) => `postgresql://postgres@127.0.0.1:${port}/${database}`,
    armOnce: () => new Promise<void>((resolve) => (armed = resolve)),
    get cuts() {
      return state.cuts;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
