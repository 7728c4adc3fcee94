import type { Admin, Consumer, Producer } from 'kafkajs';
import {
  collect,
  kafkaClient,
  messages,
  newConsumer,
  newProducer,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

let test_: TestBroker;
let admin: Admin;
let producer: Producer;
const consumers: Consumer[] = [];

beforeAll(async () => {
  test_ = await startTestBroker({ autoCreateTopics: false });
  admin = test_.kafka.admin();
  producer = newProducer(test_.kafka);
  await Promise.all([admin.connect(), producer.connect()]);
});

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await Promise.all([admin.disconnect(), producer.disconnect()]);
  await test_.broker.stop();
});

test('createTopics, listTopics and fetchTopicMetadata', async () => {
  expect(
    await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 4 }, { topic: 'admin-b' }] }),
  ).toBe(true);
  expect(await admin.createTopics({ topics: [{ topic: 'admin-a', numPartitions: 4 }] })).toBe(false); // exists
  expect((await admin.listTopics()).sort()).toEqual(['admin-a', 'admin-b']);
  const metadata = await admin.fetchTopicMetadata({ topics: ['admin-a', 'admin-b'] });
  const partitionCounts = Object.fromEntries(metadata.topics.map((t) => [t.name, t.partitions.length]));
  expect(partitionCounts).toEqual({ 'admin-a': 4, 'admin-b': 1 });
  expect(metadata.topics[0].partitions.every((p) => p.leader === 1)).toBe(true);
  await expect(admin.fetchTopicMetadata({ topics: ['missing-topic'] })).rejects.toThrow(
    /does not host this topic-partition/,
  );
  await expect(admin.createTopics({ topics: [{ topic: 'bad name!' }] })).rejects.toThrow();
});

test('fetchTopicOffsets and fetchOffsets follow produce and commit', async () => {
  await admin.createTopics({ topics: [{ topic: 'offsets-topic', numPartitions: 2 }] });
  await producer.send({ topic: 'offsets-topic', messages: messages('o', 10, (i) => `k${i}`) });
  const topicOffsets = await admin.fetchTopicOffsets('offsets-topic');
  expect(topicOffsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(10);
  expect(topicOffsets.every((p) => p.low === '0')).toBe(true);

  const received = await collect(newTracked('offsets-group'), 'offsets-topic');
  await waitFor(() => received.length === 10, 'ten messages');
  await waitFor(async () => {
    const [committed] = await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['offsets-topic'] });
    return committed.partitions.every(
      (p) => p.offset === topicOffsets.find((t) => t.partition === p.partition)!.high,
    );
  }, 'committed offsets equal to the high watermarks');
  const all = await admin.fetchOffsets({ groupId: 'offsets-group' }); // no topics: everything committed
  expect(all.map((t) => t.topic)).toEqual(['offsets-topic']);
  expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain('offsets-group');
  const [description] = (await admin.describeGroups(['offsets-group'])).groups;
  expect(description.state).toBe('Stable');
});

test('seek moves a running consumer', async () => {
  await admin.createTopics({ topics: [{ topic: 'seek-topic' }] });
  await producer.send({ topic: 'seek-topic', messages: messages('s', 10) });
  const consumer = newTracked('seek-group');
  const received = await collect(consumer, 'seek-topic');
  await waitFor(() => received.length === 10, 'ten messages');
  consumer.seek({ topic: 'seek-topic', partition: 0, offset: '3' });
  await waitFor(() => received.length === 17, 'messages 3..9 again');
  expect(received.slice(10).map((m) => m.offset)).toEqual([3, 4, 5, 6, 7, 8, 9]);
});

test('deleteTopics removes the topic and its data', async () => {
  await admin.createTopics({ topics: [{ topic: 'doomed' }] });
  await producer.send({ topic: 'doomed', messages: messages('d', 3) });
  await admin.deleteTopics({ topics: ['doomed'] });
  expect(await admin.listTopics()).not.toContain('doomed');
  await admin.createTopics({ topics: [{ topic: 'doomed' }] });
  const [partition] = await admin.fetchTopicOffsets('doomed');
  expect(partition.high).toBe('0');
});

test('with autoCreateTopics off, producing to a missing topic fails', async () => {
  const quick = newProducer(kafkaClient(test_.broker.address, 1));
  await quick.connect();
  await expect(quick.send({ topic: 'never-created', messages: [{ value: 'x' }] })).rejects.toThrow();
  await quick.disconnect();
  expect(await admin.listTopics()).not.toContain('never-created');
});

function newTracked(groupId: string): Consumer {
  const consumer = newConsumer(test_.kafka, groupId);
  consumers.push(consumer);
  return consumer;
}
