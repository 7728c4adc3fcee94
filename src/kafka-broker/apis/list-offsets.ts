import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler, type BrokerContext } from './types';

const LATEST = -1;
const EARLIEST = -2;

function lookUp(broker: BrokerContext, topic: string, partition: number, timestamp: number) {
  const log = broker.topics.partition(topic, partition);
  if (!log) return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, offset: -1 };
  if (timestamp === LATEST) return { errorCode: ErrorCode.NONE, offset: log.highWatermark };
  if (timestamp === EARLIEST) return { errorCode: ErrorCode.NONE, offset: log.logStartOffset };
  return { errorCode: ErrorCode.NONE, offset: log.offsetForTimestamp(timestamp) };
}

/** ListOffsets (2), v1+: latest, earliest, or the first batch at or after a timestamp. */
export const listOffsetsApi: ApiHandler = {
  apiKey: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 3,
  handle({ version, body }, broker) {
    body.int32(); // replica id
    if (version >= 2) body.int8(); // isolation level: no transactions, LSO = high watermark
    const topics = body.array((topic) => ({
      name: topic.string(),
      partitions: topic.array((entry) => ({ partition: entry.int32(), timestamp: entry.int64() })),
    }));
    const writer = newResponse(version, 2);
    return writer.array(topics, (topic, { name, partitions }) =>
      topic.string(name).array(partitions, (entry, { partition, timestamp }) => {
        const { errorCode, offset } = lookUp(broker, name, partition, timestamp);
        entry.int32(partition).int16(errorCode).int64(-1).int64(offset); // timestamp -1: not tracked per record
      }),
    );
  },
};
