import type { CommittedOffset } from '../log/offset-store';
import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler } from './types';

const NO_OFFSET = -1;

/** OffsetCommit (8), v2+: offsets are stored as given, negative ones included (kafkajs commits -1/-2 on seek). */
export const offsetCommitApi: ApiHandler = {
  apiKey: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 5,
  async handle({ version, body }, broker) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    if (version <= 4) body.int64(); // retention time: offsets never expire here
    const topics = body.array((topic) => {
      const name = topic.string();
      const partitions = topic.array((entry): CommittedOffset => ({
        topic: name,
        partition: entry.int32(),
        offset: entry.int64(),
        metadata: entry.nullableString(),
      }));
      return { name, partitions };
    });
    const groupError = broker.groups.group(groupId).commitCheck(generationId, memberId);
    const errorOf = (topic: string, partition: number): number =>
      groupError ||
      (broker.topics.partition(topic, partition) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const accepted = topics
      .flatMap(({ partitions }) => partitions)
      .filter(({ topic, partition }) => !errorOf(topic, partition));
    await broker.offsets.commit(groupId, accepted);
    const writer = newResponse(version, 3);
    return writer.array(topics, (topic, { name, partitions }) =>
      topic
        .string(name)
        .array(partitions, (entry, { partition }) => entry.int32(partition).int16(errorOf(name, partition))),
    );
  },
};

/** OffsetFetch (9), v1+: a null topic list (v2+) means every partition the group committed. */
export const offsetFetchApi: ApiHandler = {
  apiKey: 9,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 4,
  handle({ version, body }, broker) {
    const groupId = body.string();
    const readTopic = (topic: typeof body) => ({
      name: topic.string(),
      partitions: topic.array((entry) => entry.int32()),
    });
    const requested = version >= 2 ? body.nullableArray(readTopic) : body.array(readTopic);
    const committed = broker.offsets.committed(groupId);
    const topics =
      requested ??
      [...new Set(committed.map((entry) => entry.topic))].map((name) => ({
        name,
        partitions: committed.filter((entry) => entry.topic === name).map((entry) => entry.partition),
      }));
    const writer = newResponse(version, 3);
    writer.array(topics, (topic, { name, partitions }) =>
      topic.string(name).array(partitions, (entry, partition) => {
        const stored = broker.offsets.get(groupId, name, partition);
        entry
          .int32(partition)
          .int64(stored?.offset ?? NO_OFFSET)
          .nullableString(stored?.metadata ?? '');
        entry.int16(ErrorCode.NONE);
      }),
    );
    if (version >= 2) writer.int16(ErrorCode.NONE);
    return writer;
  },
};
