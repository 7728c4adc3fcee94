import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { startBroker, type BrokerOptions, type RunningBroker } from '../../src/kafka-broker';

export interface TestBroker {
  broker: RunningBroker;
  dataDir: string;
  kafka: Kafka;
  /** Warn/error lines the broker logged. */
  warnings: string[];
}

export function makeDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kafka-broker-test-'));
}

export function kafkaClient(address: string, retries = 8): Kafka {
  return new Kafka({
    brokers: [address],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

export async function startTestBroker(options: Partial<BrokerOptions> = {}): Promise<TestBroker> {
  const warnings: string[] = [];
  const record = (objOrMsg: object | string, msg?: string) =>
    warnings.push(`${msg ?? ''} ${JSON.stringify(objOrMsg)}`);
  const dataDir = options.dataDir ?? makeDataDir();
  const broker = await startBroker({
    port: 0,
    ...options,
    dataDir,
    logger: { info: () => undefined, warn: record, error: record },
  });
  return { broker, dataDir, kafka: kafkaClient(broker.address), warnings };
}

export function newProducer(kafka: Kafka, idempotent = false): Producer {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent });
}

/** Small timeouts so rebalances and session expiry take seconds, not minutes. */
export function newConsumer(
  kafka: Kafka,
  groupId: string,
  extra: Partial<Parameters<Kafka['consumer']>[0]> = {},
) {
  return kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 300,
    ...extra,
  });
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface Received {
  partition: number;
  offset: number;
  key: string;
  value: string;
}

/** Runs `consumer` on `topic`, collecting every message into the returned array. */
export async function collect(consumer: Consumer, topic: string, fromBeginning = true): Promise<Received[]> {
  const received: Received[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      received.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
      });
    },
  });
  return received;
}

export function messages(prefix: string, count: number, key = (i: number) => `${prefix}-key-${i % 7}`) {
  return Array.from({ length: count }, (_, i) => ({ key: key(i), value: `${prefix}-${i}` }));
}

export function requireKcat(): void {
  const probe = spawnSync('kcat', ['-V']);
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'kcat is not installed: run `apt-get install -y kcat` (Debian package kcat, librdkafka 2.0.2)',
    );
  }
}

export interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function kcat(args: string[], input = '', timeoutMs = 30_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', args);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}
