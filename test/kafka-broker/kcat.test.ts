import { CompressionTypes, type Admin, type Producer } from 'kafkajs';
import {
  collect,
  kcat,
  messages,
  newConsumer,
  newProducer,
  requireKcat,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

let test_: TestBroker;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  requireKcat();
  test_ = await startTestBroker({ defaultPartitions: 2 });
  admin = test_.kafka.admin();
  producer = newProducer(test_.kafka);
  await Promise.all([admin.connect(), producer.connect()]);
});

afterAll(async () => {
  await Promise.all([admin?.disconnect(), producer?.disconnect()]);
  await test_?.broker.stop();
});

const broker = () => ['-b', test_.broker.address];
/** librdkafka verifies every batch's CRC32C, so stored batches must stay valid after the offset rewrite. */
const CHECK_CRCS = ['-X', 'check.crcs=true'];

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean).sort();
}

test('kcat reads what kafkajs wrote (plain and gzip, keys and values)', async () => {
  const plain = messages('plain', 20);
  const zipped = messages('zipped', 20);
  await producer.send({ topic: 'from-kafkajs', acks: -1, messages: plain });
  await producer.send({ topic: 'from-kafkajs', compression: CompressionTypes.GZIP, messages: zipped });
  const result = await kcat([
    ...broker(),
    ...CHECK_CRCS,
    '-C',
    '-t',
    'from-kafkajs',
    '-o',
    'beginning',
    '-e',
    '-f',
    '%k=%s\n',
  ]);
  expect(result.code).toBe(0);
  expect(lines(result.stdout)).toEqual(
    lines([...plain, ...zipped].map((m) => `${m.key}=${m.value}\n`).join('')),
  );
});

test('kafkajs reads what an idempotent kcat producer wrote', async () => {
  const sent = messages('kcat', 25);
  const input = sent.map((m) => `${m.key}:${m.value}\n`).join('');
  const idempotent = ['-X', 'enable.idempotence=true'];
  const result = await kcat([...broker(), '-P', '-t', 'from-kcat', '-K', ':', ...idempotent], input);
  expect(result.code).toBe(0);
  const consumer = newConsumer(test_.kafka, 'reads-kcat');
  const received = await collect(consumer, 'from-kcat');
  await waitFor(() => received.length >= 25, 'the messages kcat produced');
  expect(received.map((m) => `${m.key}:${m.value}`).sort()).toEqual(
    sent.map((m) => `${m.key}:${m.value}`).sort(),
  );
  await consumer.disconnect();
});

test('kcat balanced group consumer (-G) reads, commits, and a second run resumes from the commit', async () => {
  await producer.send({ topic: 'kcat-group', messages: messages('first', 10) });
  const groupArgs = [...broker(), ...CHECK_CRCS, '-G', 'kcat-group-id', '-X', 'auto.offset.reset=earliest'];
  const first = await kcat([...groupArgs, '-e', '-f', '%s\n', 'kcat-group']);
  expect(first.code).toBe(0);
  expect(lines(first.stdout)).toEqual(
    lines(
      messages('first', 10)
        .map((m) => `${m.value}\n`)
        .join(''),
    ),
  );
  const [committed] = await admin.fetchOffsets({ groupId: 'kcat-group-id', topics: ['kcat-group'] });
  expect(committed.partitions.reduce((sum, p) => sum + Number(p.offset), 0)).toBe(10);

  await producer.send({ topic: 'kcat-group', messages: messages('second', 5) });
  const second = await kcat([...groupArgs, '-e', '-f', '%s\n', 'kcat-group']);
  expect(lines(second.stdout)).toEqual(
    lines(
      messages('second', 5)
        .map((m) => `${m.value}\n`)
        .join(''),
    ),
  );
});

test('kcat ZSTD produce is refused with UNSUPPORTED_COMPRESSION_TYPE (76)', async () => {
  // librdkafka only compresses when it saves space, so send something compressible.
  const result = await kcat([...broker(), '-P', '-t', 'zstd-refused', '-z', 'zstd'], 'a'.repeat(5000) + '\n');
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(/Unsupported compression type/);
});
