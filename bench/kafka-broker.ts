/**
 * Throughput of the embedded Kafka broker, run in a child process so its CPU is measured apart from the client's.
 *   npx tsx bench/kafka-broker.ts [--messages 50000] [--batch 250] [--inflight 4] [--size 1024] [--fsync always]
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { startBroker, type FsyncPolicy } from '../src/kafka-broker';

const CHILD_FLAG = '--broker-child';
const TIME_LIMIT_MS = 180_000;
const TOPIC = 'bench';
const PARTITIONS = 3;

type ChildMessage = { port: number } | { cpuMicros: number };

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const settings = {
  messages: Number(argument('messages', '50000')),
  batch: Number(argument('batch', '250')),
  inflight: Number(argument('inflight', '4')),
  size: Number(argument('size', '1024')),
  fsync: argument('fsync', 'always') as FsyncPolicy,
};

async function runBrokerChild(): Promise<void> {
  const broker = await startBroker({ port: 0, dataDir: process.env.BENCH_DATA_DIR!, fsync: settings.fsync });
  process.send!({ port: broker.port } satisfies ChildMessage);
  process.on('message', (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpuMicros: user + system } satisfies ChildMessage);
    } else if (message === 'stop') {
      void broker.stop().then(() => process.exit(0));
    }
  });
}

function nextMessage(child: ChildProcess): Promise<ChildMessage> {
  return new Promise((resolve) => child.once('message', (message) => resolve(message as ChildMessage)));
}

async function brokerCpuMicros(child: ChildProcess): Promise<number> {
  const reply = nextMessage(child);
  child.send('cpu');
  return ((await reply) as { cpuMicros: number }).cpuMicros;
}

interface Phase {
  name: string;
  seconds: number;
  brokerCpuSeconds: number;
  clientCpuSeconds: number;
}

async function measure(name: string, child: ChildProcess, work: () => Promise<void>): Promise<Phase> {
  const brokerBefore = await brokerCpuMicros(child);
  const clientBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const client = process.cpuUsage(clientBefore);
  const brokerCpuSeconds = ((await brokerCpuMicros(child)) - brokerBefore) / 1e6;
  return { name, seconds, brokerCpuSeconds, clientCpuSeconds: (client.user + client.system) / 1e6 };
}

async function produceAll(kafka: Kafka): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const value = Buffer.alloc(settings.size, 'x');
  const batches = Math.ceil(settings.messages / settings.batch);
  let next = 0;
  const sender = async () => {
    for (let batch = next++; batch < batches; batch = next++) {
      const count = Math.min(settings.batch, settings.messages - batch * settings.batch);
      const messages = Array.from({ length: count }, (_, i) => ({
        key: String(batch * settings.batch + i),
        value,
      }));
      await producer.send({ topic: TOPIC, acks: -1, messages });
    }
  };
  await Promise.all(Array.from({ length: settings.inflight }, sender));
  await producer.disconnect();
}

async function consumeAll(kafka: Kafka): Promise<void> {
  const consumer = kafka.consumer({ groupId: 'bench-group', maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  let received = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        received += batch.messages.length;
        if (received >= settings.messages) resolve();
      },
    });
  });
  await consumer.disconnect();
}

function report(phase: Phase, megabytes: number): void {
  const rate = Math.round(settings.messages / phase.seconds);
  const brokerShare = phase.brokerCpuSeconds / phase.seconds;
  const clientShare = phase.clientCpuSeconds / phase.seconds;
  console.log(
    `${phase.name.padEnd(8)} ${rate.toLocaleString('en').padStart(8)} msg/s  ${(megabytes / phase.seconds).toFixed(1).padStart(6)} MB/s  ` +
      `${phase.seconds.toFixed(2)} s  broker CPU ${(brokerShare * 100).toFixed(0)}% of a core, ` +
      `client CPU ${(clientShare * 100).toFixed(0)}%  (broker/client ${(brokerShare / clientShare).toFixed(2)})`,
  );
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-broker-bench-'));
  const child = fork(__filename, [CHILD_FLAG, ...process.argv.slice(2)], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_DATA_DIR: dataDir },
  });
  const deadline = setTimeout(() => {
    console.error(`bench: gave up after ${TIME_LIMIT_MS / 1000} s`);
    child.kill('SIGKILL');
    process.exit(1);
  }, TIME_LIMIT_MS);
  try {
    const { port } = (await nextMessage(child)) as { port: number };
    const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.ERROR });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }] });
    await admin.disconnect();
    const megabytes = (settings.messages * settings.size) / 1e6;
    console.log(
      `kafka-broker bench: ${settings.messages} x ${settings.size} B, batches of ${settings.batch}, ` +
        `${settings.inflight} sends in flight, ${PARTITIONS} partitions, fsync=${settings.fsync}, ${os.cpus().length} cores`,
    );
    report(await measure('produce', child, () => produceAll(kafka)), megabytes);
    report(await measure('consume', child, () => consumeAll(kafka)), megabytes);
  } finally {
    clearTimeout(deadline);
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const fail = (error: unknown) => {
  console.error(error);
  process.exit(1);
};
if (process.argv.includes(CHILD_FLAG)) runBrokerChild().catch(fail);
else main().catch(fail);
