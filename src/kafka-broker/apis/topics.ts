import { isValidTopicName } from '../log/topic-store';
import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler, type BrokerContext } from './types';

/** -1 asks for the broker default (CreateTopics v4; kafkajs sends it at any version). */
const BROKER_DEFAULT = -1;
/** Each partition holds an open file; a bound keeps a bad request from exhausting descriptors. */
const MAX_PARTITIONS = 1000;

interface TopicToCreate {
  name: string;
  partitions: number;
  replicationFactor: number;
}

function creationError(broker: BrokerContext, topic: TopicToCreate): number {
  if (!isValidTopicName(topic.name)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
  if (broker.topics.has(topic.name)) return ErrorCode.TOPIC_ALREADY_EXISTS;
  if (topic.replicationFactor !== 1 && topic.replicationFactor !== BROKER_DEFAULT) {
    return ErrorCode.INVALID_REPLICATION_FACTOR;
  }
  const validCount = topic.partitions > 0 && topic.partitions <= MAX_PARTITIONS;
  if (!validCount && topic.partitions !== BROKER_DEFAULT) return ErrorCode.INVALID_PARTITIONS;
  return ErrorCode.NONE;
}

/** CreateTopics (19). Manual assignments and configs are read but ignored: one node, one retention policy. */
export const createTopicsApi: ApiHandler = {
  apiKey: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 4,
  handle({ version, body }, broker) {
    const topics = body.array((item) => {
      const topic = { name: item.string(), partitions: item.int32(), replicationFactor: item.int16() };
      item.array((assignment) => [assignment.int32(), assignment.array((replica) => replica.int32())]);
      item.array((config) => [config.string(), config.nullableString()]);
      return topic;
    });
    body.int32(); // timeout: creation is immediate
    const validateOnly = version >= 1 && body.bool();
    const writer = newResponse(version, 2);
    writer.array(topics, (item, topic) => {
      const errorCode = creationError(broker, topic);
      if (!errorCode && !validateOnly) {
        const partitions = topic.partitions === BROKER_DEFAULT ? broker.defaultPartitions : topic.partitions;
        broker.topics.create(topic.name, partitions);
      }
      item.string(topic.name).int16(errorCode);
      if (version >= 1) item.nullableString(null);
    });
    return writer;
  },
};

/** DeleteTopics (20): removes the log files and the topic's committed offsets. */
export const deleteTopicsApi: ApiHandler = {
  apiKey: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 1,
  async handle({ version, body }, broker) {
    const names = body.array((item) => item.string());
    const results = await Promise.all(
      names.map(async (name) => {
        if (!broker.topics.has(name)) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        await broker.topics.delete(name);
        await broker.offsets.deleteTopic(name);
        return { name, errorCode: ErrorCode.NONE };
      }),
    );
    const writer = newResponse(version, 1);
    return writer.array(results, (item, result) => item.string(result.name).int16(result.errorCode));
  },
};
