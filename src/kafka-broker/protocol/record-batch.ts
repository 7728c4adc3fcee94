import { crc32c } from './crc32c';
import { ErrorCode } from './error-codes';

// RecordBatch v2 header layout (byte offsets inside one batch).
const BASE_OFFSET = 0;
const BATCH_LENGTH = 8;
const MAGIC = 16;
const CRC = 17;
const ATTRIBUTES = 21;
const LAST_OFFSET_DELTA = 23;
const MAX_TIMESTAMP = 35;
const PRODUCER_ID = 43;
const PRODUCER_EPOCH = 51;
const BASE_SEQUENCE = 53;
const RECORD_COUNT = 57;
const BATCH_HEADER_SIZE = 61;
/** base_offset + batch_length precede the counted length. */
const LOG_OVERHEAD = 12;

const CODEC_MASK = 0x07;
const TRANSACTIONAL_OR_CONTROL = 0x30;

export const CompressionCodec = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CodecName = keyof typeof CompressionCodec;

/** The header fields of one batch that the broker needs; the records themselves are never decoded. */
export interface BatchHeader {
  /** Bytes of the whole batch, header included. */
  size: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export class InvalidBatchError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Size of the batch starting at `at`, or -1 when the buffer ends before it does. */
export function batchSizeAt(buffer: Buffer, at: number): number {
  if (buffer.length - at < LOG_OVERHEAD) return -1;
  const size = LOG_OVERHEAD + buffer.readInt32BE(at + BATCH_LENGTH);
  return size < BATCH_HEADER_SIZE || at + size > buffer.length ? -1 : size;
}

export function hasValidCrc(batch: Buffer): boolean {
  return batch.readUInt32BE(CRC) === crc32c(batch, ATTRIBUTES);
}

export function readBatchHeader(batch: Buffer): BatchHeader {
  return {
    size: batch.length,
    lastOffsetDelta: batch.readInt32BE(LAST_OFFSET_DELTA),
    maxTimestamp: Number(batch.readBigInt64BE(MAX_TIMESTAMP)),
    producerId: Number(batch.readBigInt64BE(PRODUCER_ID)),
    producerEpoch: batch.readInt16BE(PRODUCER_EPOCH),
    baseSequence: batch.readInt32BE(BASE_SEQUENCE),
    recordCount: batch.readInt32BE(RECORD_COUNT),
  };
}

export function readBaseOffset(batch: Buffer): number {
  return Number(batch.readBigInt64BE(BASE_OFFSET));
}

/** The CRC does not cover base_offset, so rewriting it keeps the batch valid. */
export function writeBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), BASE_OFFSET);
}

/**
 * Splits a Produce record set into its batches and validates each one: complete, magic 2, CRC32C,
 * allowed codec, no transactional/control bits, sane offsets.
 */
export function splitAndValidateBatches(records: Buffer, allowedCodecs: ReadonlySet<number>): Buffer[] {
  const batches: Buffer[] = [];
  for (let at = 0; at < records.length;) {
    const size = batchSizeAt(records, at);
    if (size < 0) throw new InvalidBatchError(ErrorCode.CORRUPT_MESSAGE, 'truncated record batch');
    const batch = records.subarray(at, at + size);
    validateBatch(batch, allowedCodecs);
    batches.push(batch);
    at += size;
  }
  if (batches.length === 0) throw new InvalidBatchError(ErrorCode.CORRUPT_MESSAGE, 'empty record set');
  return batches;
}

function validateBatch(batch: Buffer, allowedCodecs: ReadonlySet<number>): void {
  if (batch.readInt8(MAGIC) !== 2) {
    throw new InvalidBatchError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, 'only RecordBatch v2 is supported');
  }
  if (!hasValidCrc(batch)) throw new InvalidBatchError(ErrorCode.CORRUPT_MESSAGE, 'CRC32C mismatch');
  const attributes = batch.readInt16BE(ATTRIBUTES);
  if (!allowedCodecs.has(attributes & CODEC_MASK)) {
    throw new InvalidBatchError(
      ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
      `codec ${attributes & CODEC_MASK} not allowed`,
    );
  }
  if (attributes & TRANSACTIONAL_OR_CONTROL) {
    throw new InvalidBatchError(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, 'transactions are not supported');
  }
  const header = readBatchHeader(batch);
  if (header.lastOffsetDelta < 0 || header.recordCount <= 0) {
    throw new InvalidBatchError(ErrorCode.CORRUPT_MESSAGE, 'batch without records');
  }
}
