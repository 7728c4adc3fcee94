import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  /** postgresql:// URL for pg / @prisma/adapter-pg / the Prisma CLI. */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Directory to persist to; in memory when omitted. Not crash-safe either way. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Simultaneous client connections accepted (the socket server's default of 1 is too few for Prisma's CLI). */
  maxConnections?: number;
}

/**
 * PostgreSQL for machines that have none: PGlite (Postgres compiled to WASM) behind its wire-protocol socket
 * server. PGlite has one database and ignores the name in the startup message, so the URL names `postgres`.
 * It runs one transaction at a time across all connections: fine for tests and demos, not for load.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const db = await PGlite.create(opts.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host: '127.0.0.1',
    port: opts.port ?? 0,
    maxConnections: opts.maxConnections ?? 32,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  // getServerConn() reports the port actually bound, also when we asked for 0.
  const url = `postgresql://postgres@${server.getServerConn()}/postgres`;
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
