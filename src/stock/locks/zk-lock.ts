// zk-lock: the ephemeral-sequential recipe, one parent node per segment. A buyer creates <parent>/lock-<seq>, lists
// the parent, and holds the lock if its node has the lowest sequence; otherwise it deletes its node and the walk
// moves on (segmented-lock's "next segment when locked", instead of queueing behind a watch). The fencing token is
// the sequence number: ZooKeeper numbers a parent's children in creation order, so a later holder's is higher.
// Nodes are ephemeral: a holder whose session expires (paused, partitioned) loses them.
import zookeeper, { type Client } from 'node-zookeeper-client';
import type { SegmentKeys } from '../keys';
import type { HeldLock, SegmentLock } from '../segment-takers';
import { LOCK_CALL_TIMEOUT_MS, withDeadline } from './deadline';

const ROOT = '/seckill/locks';
const PREFIX = 'lock-';

interface Session {
  zk: Client;
  connected: Promise<void>;
}

export class ZookeeperSegmentLock implements SegmentLock {
  private session: Session | undefined;
  private readonly parents = new Set<string>();

  constructor(
    private readonly connect: string,
    private readonly sessionTimeoutMs: number,
  ) {}

  async acquire(keys: SegmentKeys): Promise<HeldLock | undefined> {
    const session = this.currentSession();
    const { zk } = session;
    const parent = `${ROOT}/${keys.itemId}/${keys.segment}`;
    try {
      await session.connected;
      if (!this.parents.has(parent)) {
        await call<string>('mkdirp', (done) => zk.mkdirp(parent, done));
        this.parents.add(parent);
      }
      const path = await call<string>('create', (done) =>
        zk.create(`${parent}/${PREFIX}`, zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, done),
      );
      const children = await call<string[]>('getChildren', (done) => zk.getChildren(parent, done));
      const mine = path.slice(parent.length + 1);
      const release = () => this.remove(session, path);
      // Sequences are zero-padded to ten digits, so the lowest sorts first.
      if (children.sort()[0] !== mine) {
        await release();
        return undefined;
      }
      return { token: BigInt(mine.slice(PREFIX.length)), release };
    } catch (err) {
      // A create that timed out may still land: an ephemeral node of this live session would lock the segment for
      // good. Ending the session deletes every node it made.
      this.endSession(session);
      throw err;
    }
  }

  private async remove(session: Session, path: string): Promise<void> {
    try {
      await call<void>('remove', (done) => session.zk.remove(path, -1, done));
    } catch {
      this.endSession(session);
    }
  }

  private currentSession(): Session {
    this.session ??= this.openSession();
    return this.session;
  }

  private openSession(): Session {
    const zk = zookeeper.createClient(this.connect, {
      sessionTimeout: this.sessionTimeoutMs,
      spinDelay: 100,
      retries: 0,
    });
    const session: Session = {
      zk,
      connected: withDeadline(
        'ZooKeeper connect',
        LOCK_CALL_TIMEOUT_MS + this.sessionTimeoutMs,
        new Promise<void>((resolve) => zk.once('connected', () => resolve())),
      ),
    };
    // An expired session's nodes are gone and the client is dead: the next purchase opens a new one.
    zk.on('state', (state) => {
      if (state === zookeeper.State.EXPIRED) this.endSession(session);
    });
    session.connected.catch(() => this.endSession(session));
    dropConnectionOnGarbledReply(zk);
    zk.connect();
    return session;
  }

  private endSession(session: Session): void {
    if (this.session === session) this.session = undefined;
    session.zk.close();
  }

  async close(): Promise<void> {
    if (this.session) this.endSession(this.session);
  }
}

/** One ZooKeeper call as a promise with a deadline (the client queues requests while disconnected). */
function call<T>(
  what: string,
  start: (done: (err: Error | null | unknown, value: T) => void) => void,
): Promise<T> {
  return withDeadline(
    `ZooKeeper ${what}`,
    LOCK_CALL_TIMEOUT_MS,
    new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value)))),
  );
}

interface ConnectionManager {
  socket?: { destroy(): void };
  pendingBuffer: Buffer | null;
  onSocketData(buffer: Buffer): void;
}

/**
 * node-zookeeper-client (1.1.3, the last release) throws from its socket's data handler when a reply carries an
 * error code it does not know, which a stream read out of step after a server restart does: an uncaught exception
 * that ends the process (seen once in five fresh-clone test runs, ZooKeeper killed -9 and restarted mid-crowd). The
 * library's own answer to a reply it cannot place is to drop the socket and reconnect; this does the same here.
 */
function dropConnectionOnGarbledReply(zk: Client): void {
  const manager = (zk as unknown as { connectionManager: ConnectionManager }).connectionManager;
  const onSocketData = manager.onSocketData;
  manager.onSocketData = function (buffer: Buffer) {
    try {
      onSocketData.call(this, buffer);
    } catch {
      this.pendingBuffer = null; // the rest of a stream read out of step: not the next connection's
      this.socket?.destroy();
    }
  };
}
