/**
 * Embedded single-node Kafka-protocol broker (classic encodings, RecordBatch v2) for kafkajs and librdkafka.
 *
 *   const broker = await startBroker({ port: 9092, dataDir: '.data/kafka', logger });
 *   process.once('SIGTERM', () => void broker.stop());
 */
export { startBroker, type RunningBroker } from './broker';
export type { Logger } from './logger';
export type { BrokerOptions, CodecName, FsyncPolicy } from './options';
