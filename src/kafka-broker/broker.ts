import fs from 'node:fs';
import path from 'node:path';
import { apiHandlers } from './apis';
import type { BrokerContext } from './apis/types';
import { GroupCoordinator } from './group/coordinator';
import { GroupStore } from './group/group-store';
import { AppendNotifier } from './log/append-notifier';
import { OffsetStore } from './log/offset-store';
import { TopicStore } from './log/topic-store';
import { resolveOptions, type BrokerOptions } from './options';
import { CompressionCodec } from './protocol/record-batch';
import { BrokerServer } from './server';

export interface RunningBroker {
  host: string;
  port: number;
  /** "host:port", ready for a client's `brokers` list. */
  address: string;
  /** Stops listening, drops connections, flushes and closes the log. */
  stop(): Promise<void>;
}

const RETENTION_CHECK_INTERVAL_MS = 10_000;

/** Starts a single-node Kafka-protocol broker; resolves once it listens. */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const config = resolveOptions(options);
  if (!config.dataDir) throw new Error('kafka-broker: dataDir is required');
  fs.mkdirSync(config.dataDir, { recursive: true });
  let stopping = false;
  // Time-based ids never repeat across restarts without persisting a counter.
  let nextProducerId = Date.now();
  const notifier = new AppendNotifier();
  const topics = new TopicStore(
    config.dataDir,
    config,
    config.logger,
    (topic, partition) => notifier.notify(topic, partition),
    RETENTION_CHECK_INTERVAL_MS,
  );
  const offsets = new OffsetStore(
    path.join(config.dataDir, 'consumer-offsets.jsonl'),
    config.fsync,
    config.fsyncIntervalMs,
    config.logger,
  );
  const context: BrokerContext = {
    nodeId: config.nodeId,
    clusterId: 'seckill-embedded',
    advertisedHost: config.advertisedHost,
    advertisedPort: config.port,
    autoCreateTopics: config.autoCreateTopics,
    defaultPartitions: config.defaultPartitions,
    allowedCodecs: new Set(config.allowedCodecs.map((codec) => CompressionCodec[codec])),
    topics,
    offsets,
    groups: new GroupCoordinator(
      config.logger,
      new GroupStore(path.join(config.dataDir, 'consumer-groups.json'), config.logger),
    ),
    notifier,
    logger: config.logger,
    allocateProducerId: () => nextProducerId++,
    isStopping: () => stopping,
  };
  const server = new BrokerServer(context, apiHandlers, config.maxFrameBytes);
  const bound = await server.listen(config.host, config.port).catch(async (error: Error) => {
    await Promise.all([topics.close(), offsets.close()]);
    throw error;
  });
  context.advertisedPort = bound.port;
  const address = `${config.advertisedHost}:${bound.port}`;
  config.logger.info({ address, dataDir: config.dataDir, fsync: config.fsync }, 'kafka-broker: listening');
  return {
    host: config.advertisedHost,
    port: bound.port,
    address,
    async stop() {
      stopping = true;
      notifier.wakeAll();
      context.groups.shutdown();
      await server.close();
      await Promise.all([topics.close(), offsets.close()]);
      config.logger.info({ address }, 'kafka-broker: stopped');
    },
  };
}
