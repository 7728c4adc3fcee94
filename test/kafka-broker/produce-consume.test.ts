import net from 'node:net';
import { CompressionTypes, type Consumer, type Producer } from 'kafkajs';
import { crc32c } from '../../src/kafka-broker/protocol/crc32c';
import {
  collect,
  messages,
  newConsumer,
  newProducer,
  startTestBroker,
  waitFor,
  type TestBroker,
} from './helpers';

let test_: TestBroker;
let producer: Producer;
const consumers: Consumer[] = [];

beforeAll(async () => {
  test_ = await startTestBroker({ defaultPartitions: 3 });
  producer = newProducer(test_.kafka);
  await producer.connect();
});

afterAll(async () => {
  await Promise.all(consumers.map((consumer) => consumer.disconnect()));
  await producer.disconnect();
  await test_.broker.stop();
});

function consumer(groupId: string, extra = {}): Consumer {
  const created = newConsumer(test_.kafka, groupId, extra);
  consumers.push(created);
  return created;
}

/** Messages of each key must arrive in the order they were sent (same key, same partition). */
function expectPerKeyOrder(
  received: { key: string; value: string }[],
  sent: { key: string; value: string }[],
) {
  for (const key of new Set(sent.map((message) => message.key))) {
    expect(received.filter((m) => m.key === key).map((m) => m.value)).toEqual(
      sent.filter((m) => m.key === key).map((m) => m.value),
    );
  }
}

test('acks=all produce, plain and idempotent, is consumed in order by a group', async () => {
  const plain = messages('plain', 60);
  for (let i = 0; i < plain.length; i += 20) {
    await producer.send({ topic: 'orders', acks: -1, messages: plain.slice(i, i + 20) });
  }
  const idempotentProducer = newProducer(test_.kafka, true);
  await idempotentProducer.connect();
  const idempotent = messages('idem', 60);
  for (let i = 0; i < idempotent.length; i += 20) {
    await idempotentProducer.send({ topic: 'orders', acks: -1, messages: idempotent.slice(i, i + 20) });
  }
  await idempotentProducer.disconnect();

  const received = await collect(consumer('orders-group'), 'orders');
  await waitFor(() => received.length >= 120, '120 messages');
  const sent = [...plain, ...idempotent];
  expect(received.map((m) => m.value).sort()).toEqual(sent.map((m) => m.value).sort());
  expectPerKeyOrder(received, sent);
  // Offsets within each partition are gap-free and increasing.
  for (const partition of [0, 1, 2]) {
    const offsets = received.filter((m) => m.partition === partition).map((m) => m.offset);
    expect(offsets).toEqual(offsets.map((_, i) => i));
  }
});

test('a message larger than maxBytesPerPartition and maxBytes still arrives', async () => {
  const big = 'x'.repeat(200_000);
  const key = 'one-partition';
  await producer.send({
    topic: 'big',
    messages: [
      { key, value: 'small-1' },
      { key, value: big },
      { key, value: 'small-2' },
    ],
  });
  await producer.send({ topic: 'big', messages: [{ key, value: big + 'y' }] });
  const received = await collect(
    consumer('big-group', { maxBytesPerPartition: 1000, maxBytes: 2000 }),
    'big',
  );
  await waitFor(() => received.length >= 4, 'the large messages');
  expect(received.map((m) => m.value.length)).toEqual([7, 200_000, 7, 200_001]);
});

test('gzip batches are accepted and read back', async () => {
  const sent = messages('gzip', 50);
  await producer.send({ topic: 'zipped', compression: CompressionTypes.GZIP, messages: sent });
  const received = await collect(consumer('zipped-group'), 'zipped');
  await waitFor(() => received.length >= 50, 'gzip messages');
  expect(received.map((m) => m.value).sort()).toEqual(sent.map((m) => m.value).sort());
});

/** A RecordBatch v2 whose attributes carry `codec`; its payload is never decompressed by the broker. */
function batchWithCodec(codec: number, producer = { id: -1, sequence: -1 }): Buffer {
  const batch = Buffer.alloc(61 + 8);
  batch.writeInt32BE(batch.length - 12, 8); // batch length
  batch.writeInt8(2, 16); // magic
  batch.writeInt16BE(codec, 21); // attributes
  batch.writeInt32BE(0, 23); // last offset delta
  batch.writeBigInt64BE(BigInt(producer.id), 43);
  batch.writeInt16BE(producer.id < 0 ? -1 : 0, 51); // producer epoch
  batch.writeInt32BE(producer.sequence, 53);
  batch.writeInt32BE(1, 57); // record count
  batch.writeUInt32BE(crc32c(batch, 21), 17);
  return batch;
}

/** A Produce v3 request (correlation id 7) of one batch to partition 0 of `topic`. */
function produceFrame(topic: string, batch: Buffer, acks = -1): Buffer {
  const topicBytes = Buffer.from(topic);
  const body = Buffer.concat([
    Buffer.from([0, 0, 0, 3, 0, 0, 0, 7, 0, 0]), // Produce v3, correlation id 7, empty client id
    Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0x13, 0x88]), // null transactional id, acks (set below), timeout 5000
    Buffer.from([0, 0, 0, 1, 0, topicBytes.length]),
    topicBytes,
    Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), // one partition: 0
    Buffer.from([0, 0, 0, 0]),
    batch,
  ]);
  body.writeInt16BE(acks, 12); // after the 10-byte header and the 2-byte null transactional id
  body.writeInt32BE(batch.length, body.length - batch.length - 4);
  const frame = Buffer.concat([Buffer.alloc(4), body]);
  frame.writeInt32BE(body.length, 0);
  return frame;
}

/** Produces one batch over a raw socket; resolves with the partition's error code and base offset. */
function rawProduce(
  port: number,
  topic: string,
  batch: Buffer,
): Promise<{ errorCode: number; baseOffset: number }> {
  const topicBytes = Buffer.from(topic);
  const frame = produceFrame(topic, batch);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(frame));
    let response = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      response = Buffer.concat([response, chunk]);
      if (response.length >= 4 && response.length >= 4 + response.readInt32BE(0)) {
        socket.destroy();
        // size, correlation id, [topic: name, [partition, error, base offset ...]]
        const errorAt = 4 + 4 + 4 + 2 + topicBytes.length + 4 + 4;
        resolve({
          errorCode: response.readInt16BE(errorAt),
          baseOffset: Number(response.readBigInt64BE(errorAt + 2)),
        });
      }
    });
    socket.on('error', reject);
  });
}

test('codecs outside allowedCodecs are answered with 76; a corrupt CRC with 2', async () => {
  await producer.send({ topic: 'codecs', messages: [{ value: 'creates the topic' }] });
  const errorOf = async (batch: Buffer) => (await rawProduce(test_.broker.port, 'codecs', batch)).errorCode;
  expect(await errorOf(batchWithCodec(0))).toBe(0);
  expect(await errorOf(batchWithCodec(3))).toBe(76); // lz4
  expect(await errorOf(batchWithCodec(4))).toBe(76); // zstd
  expect(await errorOf(batchWithCodec(2))).toBe(76); // snappy
  const corrupt = batchWithCodec(0);
  corrupt.writeUInt32BE(corrupt.readUInt32BE(17) ^ 1, 17);
  expect(await errorOf(corrupt)).toBe(2);
});

test('an idempotent producer resending its last batch gets the original offset; a gap gets 45', async () => {
  await producer.send({ topic: 'sequences', messages: [{ value: 'creates the topic' }] });
  const port = test_.broker.port;
  const first = await rawProduce(port, 'sequences', batchWithCodec(0, { id: 42, sequence: 0 }));
  const second = await rawProduce(port, 'sequences', batchWithCodec(0, { id: 42, sequence: 1 }));
  expect([first.errorCode, second.errorCode]).toEqual([0, 0]);
  expect(second.baseOffset).toBe(first.baseOffset + 1);
  expect(await rawProduce(port, 'sequences', batchWithCodec(0, { id: 42, sequence: 1 }))).toEqual(second);
  expect((await rawProduce(port, 'sequences', batchWithCodec(0, { id: 42, sequence: 5 }))).errorCode).toBe(
    45,
  );
  const offsets = await (async () => {
    const admin = test_.kafka.admin();
    await admin.connect();
    const result = await admin.fetchTopicOffsets('sequences');
    await admin.disconnect();
    return result;
  })();
  expect(offsets[0].high).toBe(String(second.baseOffset + 1)); // the duplicate was not appended
});

test('acks=0 produce gets no response at all, and its batch is appended', async () => {
  await producer.send({ topic: 'fire-and-forget', messages: [{ value: 'creates the topic' }] });
  const apiVersions = Buffer.from([0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 9, 0, 0]); // ApiVersions v0, correlation id 9
  const firstResponse = await new Promise<Buffer>((resolve, reject) => {
    const socket = net.connect(test_.broker.port, '127.0.0.1', () =>
      socket.write(Buffer.concat([produceFrame('fire-and-forget', batchWithCodec(0), 0), apiVersions])),
    );
    socket.once('data', (chunk) => {
      socket.destroy();
      resolve(chunk);
    });
    socket.on('error', reject);
  });
  expect(firstResponse.readInt32BE(4)).toBe(9); // the ApiVersions answer comes first: Produce got none
  const admin = test_.kafka.admin();
  await admin.connect();
  await waitFor(
    async () =>
      (await admin.fetchTopicOffsets('fire-and-forget')).reduce((sum, p) => sum + Number(p.high), 0) === 2,
    'the acks=0 batch',
  );
  await admin.disconnect();
});
