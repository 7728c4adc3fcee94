import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import {
  collect,
  messages,
  newConsumer,
  newProducer,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

const TOPIC = 'group-topic';
const GROUP = 'split-group';
const PARTITIONS = 4;

let test_: TestBroker;

beforeAll(async () => {
  test_ = await startTestBroker();
  const admin = test_.kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
  await admin.disconnect();
});

afterAll(() => test_.broker.stop());

/** A consumer that remembers the partitions of its latest assignment. */
async function trackedMember() {
  const consumer = newConsumer(test_.kafka, GROUP);
  const member = {
    consumer,
    partitions: [] as number[],
    received: [] as { partition: number; value: string }[],
  };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    member.partitions = [...(payload.memberAssignment[TOPIC] ?? [])].sort();
  });
  member.received = await collect(consumer, TOPIC);
  return member;
}

/** A group member in a child process, so it can be killed without a LeaveGroup. */
function childMember(address: string): Promise<ChildProcess> {
  const script = `
    const { Kafka, logLevel } = require('kafkajs');
    const kafka = new Kafka({ brokers: [process.env.BROKER], logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: '${GROUP}', sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 300 });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => console.log('joined ' + JSON.stringify(payload.memberAssignment)));
    consumer.connect().then(() => consumer.subscribe({ topic: '${TOPIC}' })).then(() => consumer.run({ eachMessage: async () => {} }));
  `;
  const child = spawn(process.execPath, ['-e', script], {
    cwd: path.resolve(__dirname, '../..'),
    env: { ...process.env, BROKER: address },
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('joined') && resolve(child));
    child.on('exit', (code) => reject(new Error(`child consumer exited with ${code}`)));
  });
}

const ALL = Array.from({ length: PARTITIONS }, (_, i) => i);

test('two members split the partitions; the survivor takes over after a leave and after a kill', async () => {
  const a = await trackedMember();
  await waitFor(() => a.partitions.length === PARTITIONS, 'member A owning every partition');

  const b = await trackedMember();
  await waitFor(
    () =>
      a.partitions.length > 0 && b.partitions.length > 0 && a.partitions.length + b.partitions.length === 4,
    'A and B splitting the partitions',
  );
  expect([...a.partitions, ...b.partitions].sort()).toEqual(ALL);

  const producer = newProducer(test_.kafka);
  await producer.connect();
  await producer.send({ topic: TOPIC, messages: messages('split', 40, (i) => `k${i}`) });
  await waitFor(() => a.received.length + b.received.length === 40, 'all 40 messages across both members');
  expect(new Set(a.received.map((m) => m.partition))).toEqual(new Set(a.partitions));

  await b.consumer.disconnect(); // LeaveGroup
  await waitFor(() => a.partitions.length === PARTITIONS, 'A taking over after B left');

  const child = await childMember(test_.broker.address);
  await waitFor(() => a.partitions.length < PARTITIONS, 'A giving partitions to the child member');
  child.kill('SIGKILL'); // no LeaveGroup: only the session timeout can notice
  await waitFor(() => a.partitions.length === PARTITIONS, 'A taking over after the child was killed', 30_000);

  const before = a.received.length;
  await producer.send({ topic: TOPIC, messages: messages('after-kill', 20, (i) => `k${i}`) });
  await waitFor(() => a.received.length === before + 20, 'A receiving from every partition');
  await producer.disconnect();
  await a.consumer.disconnect();
});
