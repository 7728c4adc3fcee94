import { ErrorCode } from '../protocol/error-codes';
import type { BatchHeader } from '../protocol/record-batch';

/** Kafka remembers the last 5 batches per producer and partition (max.in.flight for idempotence). */
const REMEMBERED_BATCHES = 5;

interface RememberedBatch {
  baseSequence: number;
  baseOffset: number;
  durable: Promise<void>;
}

interface ProducerEntry {
  epoch: number;
  lastSequence: number;
  recent: RememberedBatch[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number; durable: Promise<void> }
  | { kind: 'error'; errorCode: number };

const NO_PRODUCER = -1;

/** Sequence tracking of idempotent producers for one partition. */
export class ProducerState {
  private readonly producers = new Map<number, ProducerEntry>();

  check(header: BatchHeader): SequenceCheck {
    if (header.producerId === NO_PRODUCER) return { kind: 'append' };
    const entry = this.producers.get(header.producerId);
    // An unknown producer, or a newer epoch, starts at whatever sequence it presents.
    if (!entry || header.producerEpoch > entry.epoch) return { kind: 'append' };
    if (header.producerEpoch < entry.epoch)
      return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH };
    const duplicate = entry.recent.find((batch) => batch.baseSequence === header.baseSequence);
    if (duplicate) return { kind: 'duplicate', baseOffset: duplicate.baseOffset, durable: duplicate.durable };
    if (header.baseSequence !== entry.lastSequence + 1) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    return { kind: 'append' };
  }

  record(header: BatchHeader, baseOffset: number, durable: Promise<void>): void {
    if (header.producerId === NO_PRODUCER) return;
    const previous = this.producers.get(header.producerId);
    const recent = previous && previous.epoch === header.producerEpoch ? previous.recent : [];
    recent.push({ baseSequence: header.baseSequence, baseOffset, durable });
    if (recent.length > REMEMBERED_BATCHES) recent.shift();
    this.producers.set(header.producerId, {
      epoch: header.producerEpoch,
      lastSequence: header.baseSequence + header.lastOffsetDelta,
      recent,
    });
  }
}
