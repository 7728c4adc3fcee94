import { ErrorCode } from '../protocol/error-codes';
import { InvalidBatchError, splitAndValidateBatches } from '../protocol/record-batch';
import { Writer } from '../protocol/writer';
import { NO_THROTTLE, type ApiHandler, type BrokerContext } from './types';

const NO_LOG_APPEND_TIME = -1; // batches keep CreateTime
const ACKS_NONE = 0;

interface PartitionResult {
  index: number;
  errorCode: number;
  baseOffset: number;
  logStartOffset: number;
}

async function producePartition(
  broker: BrokerContext,
  topic: string,
  index: number,
  records: Buffer | null,
): Promise<PartitionResult> {
  const log = broker.topics.partition(topic, index);
  if (!log)
    return { index, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, baseOffset: -1, logStartOffset: -1 };
  try {
    const batches = splitAndValidateBatches(records ?? Buffer.alloc(0), broker.allowedCodecs);
    const { errorCode, baseOffset } = await log.append(batches);
    return { index, errorCode, baseOffset, logStartOffset: log.logStartOffset };
  } catch (error) {
    if (error instanceof InvalidBatchError) {
      broker.logger.warn(
        { topic, partition: index, reason: error.message },
        'kafka-broker: produce rejected',
      );
      return { index, errorCode: error.errorCode, baseOffset: -1, logStartOffset: -1 };
    }
    broker.logger.error({ topic, partition: index, err: error }, 'kafka-broker: append failed');
    return { index, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, baseOffset: -1, logStartOffset: -1 };
  }
}

/** Produce (0), v3+ only (RecordBatch v2). Answers once every batch is durable per the fsync policy. */
export const produceApi: ApiHandler = {
  apiKey: 0,
  name: 'Produce',
  minVersion: 3,
  maxVersion: 7,
  async handle({ version, body }, broker) {
    body.nullableString(); // transactional id: transactional batches are rejected by the batch validation
    const acks = body.int16();
    body.int32(); // timeout: a single node has no replicas to wait for
    const topics = body.array((topic) => ({
      name: topic.string(),
      partitions: topic.array((partition) => ({
        index: partition.int32(),
        records: partition.nullableBytes(),
      })),
    }));
    const results = await Promise.all(
      topics.map(async ({ name, partitions }) => ({
        name,
        partitions: await Promise.all(
          partitions.map(({ index, records }) => producePartition(broker, name, index, records)),
        ),
      })),
    );
    if (acks === ACKS_NONE) return null;
    const writer = new Writer().array(results, (topic, { name, partitions }) =>
      topic.string(name).array(partitions, (partition, result) => {
        partition
          .int32(result.index)
          .int16(result.errorCode)
          .int64(result.baseOffset)
          .int64(NO_LOG_APPEND_TIME);
        if (version >= 5) partition.int64(result.logStartOffset);
      }),
    );
    return writer.int32(NO_THROTTLE); // Produce puts throttle_time_ms last
  },
};
