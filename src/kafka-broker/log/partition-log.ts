import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { ErrorCode } from '../protocol/error-codes';
import {
  batchSizeAt,
  hasValidCrc,
  readBaseOffset,
  readBatchHeader,
  writeBaseOffset,
  type BatchHeader,
} from '../protocol/record-batch';
import { AppendFile, type FsyncPolicy } from './append-file';
import { ProducerState } from './producer-state';

export interface LogConfig {
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  segmentBytes: number;
  retentionBytes: number;
  retentionMs: number;
}

class Segment {
  batchCount = 0;
  maxTimestamp = -1;
  /** Fetches reading this file right now; a deleted segment closes when the last one finishes. */
  readers = 0;
  deleted = false;

  constructor(
    readonly baseOffset: number,
    readonly file: AppendFile,
  ) {}

  releaseIfDeleted(): void {
    if (this.deleted && this.readers === 0) this.file.discard();
  }
}

interface BatchEntry {
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  position: number;
  size: number;
  segment: Segment;
}

export interface AppendResult {
  errorCode: number;
  baseOffset: number;
}

const SEGMENT_SUFFIX = '.log';

function segmentFileName(baseOffset: number): string {
  return String(baseOffset).padStart(20, '0') + SEGMENT_SUFFIX;
}

function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  return new Promise((resolve, reject) =>
    fs.read(fd, buffer, 0, length, position, (error, read) =>
      error ? reject(error) : resolve(buffer.subarray(0, read)),
    ),
  );
}

/**
 * One partition: RecordBatch v2 batches stored verbatim (base offset rewritten) in segment files named by
 * their first offset, with an in-memory index of batch positions.
 */
export class PartitionLog {
  private readonly segments: Segment[] = [];
  private readonly batches: BatchEntry[] = [];
  private readonly producers = new ProducerState();
  /** Next offset to assign; ahead of the high watermark while appends are being written. */
  private nextOffset = 0;
  /** Next offset a reader can see: everything below is durable per the fsync policy. */
  highWatermark = 0;
  /** Publishes appends in offset order even when a segment roll lets a later write finish first. */
  private publishTail: Promise<void> = Promise.resolve();
  /** After a failed write the file may hold a partial batch: refuse appends until recovery on restart. */
  private writeFailed = false;

  private constructor(
    private readonly dir: string,
    private readonly config: LogConfig,
    private readonly logger: Logger,
    private readonly onPublish: () => void,
  ) {}

  static open(dir: string, config: LogConfig, logger: Logger, onPublish: () => void): PartitionLog {
    fs.mkdirSync(dir, { recursive: true });
    const log = new PartitionLog(dir, config, logger, onPublish);
    const baseOffsets = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith(SEGMENT_SUFFIX))
      .map((name) => Number(name.slice(0, -SEGMENT_SUFFIX.length)))
      .sort((a, b) => a - b);
    for (const baseOffset of baseOffsets) log.recoverSegment(baseOffset);
    if (log.segments.length === 0) log.addSegment(0);
    log.highWatermark = log.nextOffset;
    return log;
  }

  get logStartOffset(): number {
    return this.segments[0].baseOffset;
  }

  private get activeSegment(): Segment {
    return this.segments[this.segments.length - 1];
  }

  private addSegment(baseOffset: number): Segment {
    const file = new AppendFile(
      path.join(this.dir, segmentFileName(baseOffset)),
      this.config.fsync,
      this.config.fsyncIntervalMs,
    );
    const segment = new Segment(baseOffset, file);
    this.segments.push(segment);
    this.nextOffset = baseOffset;
    return segment;
  }

  /** Indexes a segment's batches and cuts everything from the first torn or corrupt batch on. */
  private recoverSegment(baseOffset: number): void {
    const segment = this.addSegment(baseOffset);
    const data = fs.readFileSync(segment.file.filePath);
    let position = 0;
    for (let size = batchSizeAt(data, 0); size > 0; size = batchSizeAt(data, position)) {
      const batch = data.subarray(position, position + size);
      if (!hasValidCrc(batch) || readBaseOffset(batch) !== this.nextOffset) break;
      const header = readBatchHeader(batch);
      this.index(segment, this.nextOffset, header, position);
      this.producers.record(header, this.nextOffset, Promise.resolve());
      this.nextOffset += header.lastOffsetDelta + 1;
      position += size;
    }
    if (position < data.length) {
      this.logger.warn(
        { segment: segment.file.filePath, validBytes: position, fileBytes: data.length },
        'kafka-broker: cut torn or corrupt log tail',
      );
      segment.file.truncate(position);
    }
  }

  private index(segment: Segment, baseOffset: number, header: BatchHeader, position: number): void {
    this.batches.push({
      baseOffset,
      lastOffset: baseOffset + header.lastOffsetDelta,
      maxTimestamp: header.maxTimestamp,
      position,
      size: header.size,
      segment,
    });
    segment.batchCount++;
    segment.maxTimestamp = Math.max(segment.maxTimestamp, header.maxTimestamp);
  }

  /** Appends validated batches; resolves once they are durable, with the base offset of the first. */
  async append(batches: Buffer[]): Promise<AppendResult> {
    if (this.writeFailed) return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, baseOffset: -1 };
    let firstOffset = -1;
    const durables: Promise<void>[] = [];
    let errorCode = 0;
    for (const batch of batches) {
      const header = readBatchHeader(batch);
      const check = this.producers.check(header);
      if (check.kind === 'error') {
        errorCode = check.errorCode;
        break;
      }
      const { baseOffset, durable } = check.kind === 'duplicate' ? check : this.appendBatch(batch, header);
      if (firstOffset < 0) firstOffset = baseOffset;
      durables.push(durable);
    }
    await Promise.all(durables);
    return errorCode ? { errorCode, baseOffset: -1 } : { errorCode, baseOffset: firstOffset };
  }

  private appendBatch(batch: Buffer, header: BatchHeader): { baseOffset: number; durable: Promise<void> } {
    if (this.activeSegmentIsFull() || this.activeSegmentIsExpired()) this.addSegment(this.nextOffset);
    const segment = this.activeSegment;
    const baseOffset = this.nextOffset;
    this.nextOffset += header.lastOffsetDelta + 1;
    writeBaseOffset(batch, baseOffset);
    const { position, durable: written } = segment.file.append(batch);
    const durable = Promise.all([written, this.publishTail]).then(() => {
      this.index(segment, baseOffset, header, position);
      this.highWatermark = baseOffset + header.lastOffsetDelta + 1;
      this.enforceRetention();
      this.onPublish();
    });
    this.publishTail = durable.catch(() => {
      this.writeFailed = true;
    });
    this.producers.record(header, baseOffset, durable);
    return { baseOffset, durable };
  }

  private activeSegmentIsFull(): boolean {
    return this.activeSegment.file.size >= this.config.segmentBytes;
  }

  /** An expired active segment is rolled so that age retention can delete it whole. */
  private activeSegmentIsExpired(now = Date.now()): boolean {
    const active = this.activeSegment;
    return active.batchCount > 0 && active.maxTimestamp < now - this.config.retentionMs;
  }

  /** Index of the first batch whose last offset is >= offset, or -1. */
  private findBatch(offset: number): number {
    let low = 0;
    let high = this.batches.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.batches[middle].lastOffset < offset) low = middle + 1;
      else high = middle;
    }
    return low < this.batches.length ? low : -1;
  }

  /**
   * Whole batches from the one holding `offset`, up to `maxBytes` — but always at least that first batch
   * (KIP-74), or a message larger than the fetch limits would stall the partition for ever.
   */
  async read(offset: number, maxBytes: number): Promise<Buffer> {
    const first = this.findBatch(offset);
    if (first < 0 || offset >= this.highWatermark) return Buffer.alloc(0);
    const { segment, position } = this.batches[first];
    if (segment.file.closed) return Buffer.alloc(0);
    let size = this.batches[first].size;
    for (let i = first + 1; i < this.batches.length; i++) {
      const next = this.batches[i];
      if (next.segment !== segment || size + next.size > maxBytes) break;
      size += next.size;
    }
    segment.readers++;
    try {
      return await readAt(segment.file.fd, size, position);
    } finally {
      segment.readers--;
      segment.releaseIfDeleted();
    }
  }

  /** Earliest offset of a batch holding a record with timestamp >= `timestamp`, or -1 (batch granularity). */
  offsetForTimestamp(timestamp: number): number {
    const entry = this.batches.find((batch) => batch.maxTimestamp >= timestamp);
    return entry ? entry.baseOffset : -1;
  }

  private totalBytes(): number {
    return this.segments.reduce((sum, segment) => sum + segment.file.size, 0);
  }

  /** Deletes whole old segments beyond the size or age bound; the active segment is rolled once all expired. */
  enforceRetention(now = Date.now()): void {
    const cutoff = now - this.config.retentionMs;
    const allWritten = this.nextOffset === this.highWatermark;
    if (allWritten && this.activeSegmentIsExpired(now)) this.addSegment(this.nextOffset);
    while (
      this.segments.length > 1 &&
      (this.totalBytes() > this.config.retentionBytes || this.segments[0].maxTimestamp < cutoff)
    ) {
      this.deleteOldestSegment();
    }
  }

  private deleteOldestSegment(): void {
    const segment = this.segments.shift()!;
    this.batches.splice(0, segment.batchCount);
    segment.deleted = true;
    segment.releaseIfDeleted();
    // Runs from timers and append callbacks: a failed unlink must be logged, never thrown.
    fs.rm(segment.file.filePath, { force: true }, (error) => {
      if (error)
        this.logger.error(
          { err: error, segment: segment.file.filePath },
          'kafka-broker: segment delete failed',
        );
    });
    this.logger.info(
      { dir: this.dir, segment: segment.baseOffset, logStartOffset: this.logStartOffset },
      'kafka-broker: retention deleted a segment',
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.segments.map((segment) => segment.file.close()));
  }
}
