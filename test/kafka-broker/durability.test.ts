import fs from 'node:fs';
import path from 'node:path';
import {
  collect,
  kafkaClient,
  makeDataDir,
  messages,
  newConsumer,
  newProducer,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

const TOPIC = 'durable';

async function committedOffsets(test_: TestBroker, groupId: string, topicName = TOPIC) {
  const admin = test_.kafka.admin();
  await admin.connect();
  const [topic] = await admin.fetchOffsets({ groupId, topics: [topicName] });
  await admin.disconnect();
  return Object.fromEntries(topic.partitions.map((p) => [p.partition, p.offset])) as Record<number, string>;
}

async function highWatermarks(test_: TestBroker, topic: string) {
  const admin = test_.kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets;
}

test.each(['always', 'interval', 'never'] as const)(
  'fsync %s: committed offsets and acknowledged messages survive a broker restart; the group resumes exactly',
  async (fsync) => {
    const dataDir = makeDataDir();
    const first = await startTestBroker({ dataDir, fsync, defaultPartitions: 2 });
    const port = first.broker.port;
    const producer = newProducer(first.kafka);
    await producer.connect();
    const consumedBefore = messages('before', 30, (i) => `k${i}`);
    await producer.send({ topic: TOPIC, acks: -1, messages: consumedBefore });

    const consumer = newConsumer(first.kafka, 'restart-group');
    const received = await collect(consumer, TOPIC);
    await waitFor(() => received.length === 30, 'the first 30 messages');
    await waitFor(async () => {
      const committed = await committedOffsets(first, 'restart-group');
      return Number(committed[0]) + Number(committed[1]) === 30;
    }, 'the commit of all 30');
    const committedBefore = await committedOffsets(first, 'restart-group');
    await consumer.disconnect();
    // Acknowledged but not consumed: must be delivered after the restart, once.
    const pending = messages('pending', 20, (i) => `k${i}`);
    await producer.send({ topic: TOPIC, acks: -1, messages: pending });
    await first.broker.stop();

    const second = await startTestBroker({ dataDir, fsync, port, defaultPartitions: 2 });
    expect(await committedOffsets(second, 'restart-group')).toEqual(committedBefore);
    // The producer of the first incarnation reconnects by itself.
    const after = messages('after', 10, (i) => `k${i}`);
    await producer.send({ topic: TOPIC, acks: -1, messages: after });
    const resumer = newConsumer(second.kafka, 'restart-group');
    const resumed = await collect(resumer, TOPIC);
    await waitFor(() => resumed.length >= 30, 'the 30 messages produced around the restart');
    await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would show up now
    expect(resumed.map((m) => m.value).sort()).toEqual([...pending, ...after].map((m) => m.value).sort());

    const everything = newConsumer(second.kafka, 'fresh-group');
    const all = await collect(everything, TOPIC);
    await waitFor(() => all.length >= 60, 'all 60 messages from the beginning');
    expect(new Set(all.map((m) => m.value)).size).toBe(60);
    await Promise.all([producer.disconnect(), resumer.disconnect(), everything.disconnect()]);
    await second.broker.stop();
  },
);

// Group membership is persisted like Kafka's group metadata: the member keeps its id, so its commits keep working.
test('a consumer and a producer kept running across a broker restart carry on without loss or repeats', async () => {
  const dataDir = makeDataDir();
  const first = await startTestBroker({ dataDir });
  const port = first.broker.port;
  const producer = newProducer(first.kafka);
  await producer.connect();
  await producer.send({ topic: 'live', messages: messages('before', 10) });
  const consumer = newConsumer(first.kafka, 'live-group');
  const received = await collect(consumer, 'live');
  await waitFor(() => received.length === 10, 'the messages sent before the restart');
  await waitFor(
    async () => (await committedOffsets(first, 'live-group', 'live'))[0] === '10',
    'the commit of offset 10',
  );
  await first.broker.stop();

  const second = await startTestBroker({ dataDir, port });
  await producer.send({ topic: 'live', messages: messages('after', 10) });
  await waitFor(() => received.length >= 20, 'the messages sent after the restart', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 500)); // a repeat would show up now
  expect(received.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  await Promise.all([producer.disconnect(), consumer.disconnect()]);
  await second.broker.stop();
});

test('a torn tail (partial last write) is cut on start-up and the partition keeps working', async () => {
  const dataDir = makeDataDir();
  const first = await startTestBroker({ dataDir });
  const producer = newProducer(first.kafka);
  await producer.connect();
  await producer.send({ topic: 'torn', messages: messages('ok', 5) });
  await producer.disconnect();
  await first.broker.stop();

  const segment = path.join(dataDir, 'topics', 'torn', '0', '00000000000000000000.log');
  const intact = fs.readFileSync(segment);
  fs.appendFileSync(segment, intact.subarray(0, 40)); // the head of a batch whose body never made it

  const second = await startTestBroker({ dataDir });
  expect(second.warnings.some((line) => line.includes('torn'))).toBe(true);
  expect(fs.statSync(segment).size).toBe(intact.length);
  const again = newProducer(second.kafka);
  await again.connect();
  await again.send({ topic: 'torn', messages: messages('new', 5) });
  const consumer = newConsumer(second.kafka, 'torn-group');
  const received = await collect(consumer, 'torn');
  await waitFor(() => received.length >= 10, 'old and new messages');
  expect(received.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await Promise.all([again.disconnect(), consumer.disconnect()]);
  await second.broker.stop();
});

test('the size bound deletes old segments and moves the log start offset', async () => {
  const test_ = await startTestBroker({ segmentBytes: 4096, retentionBytes: 16_384 });
  const producer = newProducer(test_.kafka);
  await producer.connect();
  for (let i = 0; i < 60; i++) {
    await producer.send({ topic: 'bounded', messages: [{ value: `${i}:`.padEnd(1000, 'x') }] });
  }
  const [offsets] = await highWatermarks(test_, 'bounded');
  expect(offsets.high).toBe('60');
  expect(Number(offsets.low)).toBeGreaterThan(0);
  const dir = path.join(test_.dataDir, 'topics', 'bounded', '0');
  const bytesOnDisk = () =>
    fs.readdirSync(dir).reduce((sum, name) => sum + fs.statSync(path.join(dir, name)).size, 0);
  await waitFor(() => bytesOnDisk() <= 16_384 + 4096, 'old segment files to be deleted');

  const consumer = newConsumer(test_.kafka, 'bounded-group');
  const received = await collect(consumer, 'bounded');
  const retained = 60 - Number(offsets.low);
  await waitFor(() => received.length >= retained, 'the retained messages');
  expect(received[0].offset).toBe(Number(offsets.low));
  await Promise.all([producer.disconnect(), consumer.disconnect()]);
  await test_.broker.stop();
});

test('the age bound deletes expired data', async () => {
  const test_ = await startTestBroker({ retentionMs: 1500 });
  const producer = newProducer(kafkaClient(test_.broker.address));
  await producer.connect();
  await producer.send({ topic: 'aging', messages: [{ value: 'old' }] });
  await new Promise((resolve) => setTimeout(resolve, 1600));
  await producer.send({ topic: 'aging', messages: [{ value: 'new' }] }); // retention runs on append
  await waitFor(
    async () => (await highWatermarks(test_, 'aging'))[0].low === '1',
    'log start moving past the old batch',
  );
  await producer.disconnect();
  await test_.broker.stop();
});
