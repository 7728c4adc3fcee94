// kafkajs clients. One Kafka object per process; topics are created up front with KAFKA_PARTITIONS partitions so
// producers and consumers agree on partition counts (auto-create would give the broker default).
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import type { Logger } from './logger';

export function createKafka(brokers: string[], log: Logger, clientId = 'seckill'): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    // Route kafkajs logs through pino instead of its console logger.
    logCreator:
      () =>
      ({ namespace, level, log: entry }) => {
        const { message, ...extra } = entry;
        const method = level <= logLevel.ERROR ? 'error' : 'warn';
        log[method]({ namespace, ...extra }, message);
      },
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

export async function ensureTopics(kafka: Kafka, topics: string[], numPartitions: number) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length) {
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions })),
        waitForLeaders: true,
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Plain (not idempotent) producer: a retried send may store a message twice, which the consumer's dedupe table
 * absorbs anyway; kafkajs's idempotent mode would also ignore our bounded retry settings.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
}
