import { isValidTopicName } from '../log/topic-store';
import { ErrorCode } from '../protocol/error-codes';
import type { Reader } from '../protocol/reader';
import { newResponse, type ApiHandler, type BrokerContext } from './types';

function requestedTopics(body: Reader, version: number, broker: BrokerContext): string[] {
  // v0 says "all topics" with an empty array, v1+ with a null one.
  const topics =
    version === 0 ? body.array((item) => item.string()) : body.nullableArray((item) => item.string());
  const all = topics === null || (version === 0 && topics.length === 0);
  return all ? broker.topics.names() : topics;
}

/** 0, or why the topic is not listed; auto-creates it when both client and broker allow it. */
function ensureTopic(broker: BrokerContext, topic: string, allowAutoCreate: boolean): number {
  if (!isValidTopicName(topic)) return ErrorCode.INVALID_TOPIC_EXCEPTION;
  if (broker.topics.has(topic)) return ErrorCode.NONE;
  if (!allowAutoCreate || !broker.autoCreateTopics) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  broker.topics.create(topic, broker.defaultPartitions);
  return ErrorCode.NONE;
}

/** Metadata (3): this node is the leader, only replica and controller of everything. */
export const metadataApi: ApiHandler = {
  apiKey: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 6,
  handle({ version, body }, broker) {
    const topics = requestedTopics(body, version, broker);
    // Before v4 the flag does not exist and Kafka auto-creates.
    const allowAutoCreate = version >= 4 ? body.bool() : true;
    const writer = newResponse(version, 3);
    writer.array([broker.nodeId], (item, nodeId) => {
      item.int32(nodeId).string(broker.advertisedHost).int32(broker.advertisedPort);
      if (version >= 1) item.nullableString(null); // rack
    });
    if (version >= 2) writer.nullableString(broker.clusterId);
    if (version >= 1) writer.int32(broker.nodeId);
    writer.array(topics, (item, topic) => {
      item.int16(ensureTopic(broker, topic, allowAutoCreate)).string(topic);
      if (version >= 1) item.bool(false); // is_internal
      item.array(broker.topics.partitions(topic), (entry, _log, partition) => {
        entry.int16(ErrorCode.NONE).int32(partition).int32(broker.nodeId);
        entry.int32Array([broker.nodeId]).int32Array([broker.nodeId]);
        if (version >= 5) entry.int32Array([]); // offline replicas
      });
    });
    return writer;
  },
};
