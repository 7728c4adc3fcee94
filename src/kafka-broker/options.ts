import type { FsyncPolicy } from './log/append-file';
import { silentLogger, type Logger } from './logger';
import type { CodecName } from './protocol/record-batch';

export type { FsyncPolicy } from './log/append-file';
export type { CodecName } from './protocol/record-batch';

/** Options of `startBroker`. Only `dataDir` is required. */
export interface BrokerOptions {
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 9092. */
  port?: number;
  /** Host put in Metadata/FindCoordinator; clients must reach the broker under it. Default: `host`. */
  advertisedHost?: string;
  /** Directory of the logs and committed offsets (created if missing). */
  dataDir: string;
  /** Create unknown topics on Metadata requests that allow it (producers, consumers). Default true. */
  autoCreateTopics?: boolean;
  /** Partitions of auto-created topics and of CreateTopics with -1. Default 1. */
  defaultPartitions?: number;
  /**
   * When an acknowledged write is on stable storage. Default 'always'.
   * - 'always': fdatasync before Produce/OffsetCommit is answered (concurrent appends share one sync);
   * - 'interval': answered once written to the OS, synced within `fsyncIntervalMs` (survives a broker crash,
   *   not a machine crash in that window);
   * - 'never': answered once written to the OS; the OS syncs when it likes.
   */
  fsync?: FsyncPolicy;
  /** Sync period for fsync 'interval'. Default 1000 ms. */
  fsyncIntervalMs?: number;
  /** A partition's active segment file is rolled once it reaches this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Per partition: the oldest whole segments are deleted while the log is larger. Default 1 GiB. */
  retentionBytes?: number;
  /** Per partition: segments whose newest record is older are deleted. Default 7 days. */
  retentionMs?: number;
  /** Compression codecs accepted on Produce; others get UNSUPPORTED_COMPRESSION_TYPE (76). Default none + gzip. */
  allowedCodecs?: CodecName[];
  /** This broker's node id (also controller and coordinator id). Default 1. */
  nodeId?: number;
  /** Requests larger than this close the connection. Default 100 MiB (Kafka's socket.request.max.bytes). */
  maxFrameBytes?: number;
  /** pino-compatible logger. Default: silent. */
  logger?: Logger;
}

export type ResolvedBrokerOptions = Required<BrokerOptions>;

const MiB = 1024 * 1024;

export function resolveOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const host = options.host ?? '127.0.0.1';
  return {
    host,
    port: options.port ?? 9092,
    advertisedHost: options.advertisedHost ?? host,
    dataDir: options.dataDir,
    autoCreateTopics: options.autoCreateTopics ?? true,
    defaultPartitions: options.defaultPartitions ?? 1,
    fsync: options.fsync ?? 'always',
    fsyncIntervalMs: options.fsyncIntervalMs ?? 1000,
    segmentBytes: options.segmentBytes ?? 64 * MiB,
    retentionBytes: options.retentionBytes ?? 1024 * MiB,
    retentionMs: options.retentionMs ?? 7 * 24 * 3600 * 1000,
    allowedCodecs: options.allowedCodecs ?? ['none', 'gzip'],
    nodeId: options.nodeId ?? 1,
    maxFrameBytes: options.maxFrameBytes ?? 100 * MiB,
    logger: options.logger ?? silentLogger,
  };
}
