import fs from 'node:fs';
import path from 'node:path';
import { syncDirectory } from './durable-write';

/**
 * When an acknowledged append is on stable storage:
 * - 'always': fdatasync before the append is acknowledged (group commit: concurrent appends share one sync);
 * - 'interval': acknowledged once written to the OS; synced at most `fsyncIntervalMs` later
 *   (survives a broker crash, not a power loss in that window);
 * - 'never': acknowledged once written to the OS; the OS decides when to sync.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

interface PendingWrite {
  buffer: Buffer;
  resolve: () => void;
  reject: (error: Error) => void;
}

function writev(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.writev(fd, buffers, position, (error, written) => (error ? reject(error) : resolve(written))),
  );
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

/** An append-only file whose writes are coalesced, ordered and acknowledged per the fsync policy. */
export class AppendFile {
  readonly fd: number;
  /** Bytes handed to append() so far, i.e. the position of the next append. */
  private end: number;
  /** Bytes already written to the file (the position of the next flush). */
  private flushedEnd: number;
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  /** Once closed, the fd number may belong to another file: nothing may touch it any more. */
  closed = false;

  constructor(
    readonly filePath: string,
    private readonly policy: FsyncPolicy,
    private readonly fsyncIntervalMs: number,
  ) {
    const created = !fs.existsSync(filePath);
    this.fd = fs.openSync(filePath, created ? 'w+' : 'r+');
    if (created && policy !== 'never') syncDirectory(path.dirname(filePath));
    this.end = fs.fstatSync(this.fd).size;
    this.flushedEnd = this.end;
  }

  get size(): number {
    return this.end;
  }

  /** Cuts a torn or corrupt tail found during recovery. */
  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size);
    fs.fdatasyncSync(this.fd);
    this.end = size;
    this.flushedEnd = size;
  }

  /** Queues `buffer`; returns its position and a promise settled once it is durable per the policy. */
  append(buffer: Buffer): { position: number; durable: Promise<void> } {
    const position = this.end;
    if (this.closed) return { position, durable: Promise.reject(new Error(`${this.filePath} is closed`)) };
    this.end += buffer.length;
    const durable = new Promise<void>((resolve, reject) => this.pending.push({ buffer, resolve, reject }));
    this.flushing ??= this.flushLoop();
    return { position, durable };
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const writes = this.pending;
      this.pending = [];
      try {
        await this.writeAll(writes.map((write) => write.buffer));
        writes.forEach((write) => write.resolve());
      } catch (error) {
        writes.forEach((write) => write.reject(error as Error));
      }
    }
    this.flushing = null;
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    let position = this.flushedEnd;
    let rest = buffers;
    // writev may write less than asked; continue with what is left.
    while (rest.length > 0) {
      let written = await writev(this.fd, rest, position);
      position += written;
      this.flushedEnd = position;
      while (rest.length > 0 && written >= rest[0].length) {
        written -= rest[0].length;
        rest = rest.slice(1);
      }
      if (rest.length > 0 && written > 0) rest = [rest[0].subarray(written), ...rest.slice(1)];
    }
    if (this.policy === 'always') await fdatasync(this.fd);
    else if (this.policy === 'interval') this.scheduleSync();
  }

  private scheduleSync(): void {
    this.syncTimer ??= setTimeout(() => {
      this.syncTimer = null;
      fs.fdatasync(this.fd, () => undefined);
    }, this.fsyncIntervalMs);
  }

  /** Closes at once without syncing: for a deleted file that may still be read. */
  discard(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.closed = true;
    fs.close(this.fd, () => undefined);
  }

  /** Waits for queued writes, syncs and closes. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.closed = true;
    if (this.policy !== 'never') fs.fdatasyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}
