import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logger';
import { syncDirectory } from './durable-write';
import { PartitionLog, type LogConfig } from './partition-log';

const MAX_TOPIC_NAME_LENGTH = 249;
const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Kafka's rule; it also makes every valid name a safe directory name. */
export function isValidTopicName(name: string): boolean {
  return name.length <= MAX_TOPIC_NAME_LENGTH && TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

/** All topics and their partition logs, laid out as `<dataDir>/topics/<topic>/<partition>/`. */
export class TopicStore {
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly root: string;
  private readonly retentionTimer: NodeJS.Timeout;

  constructor(
    dataDir: string,
    private readonly config: LogConfig,
    private readonly logger: Logger,
    private readonly onPublish: (topic: string, partition: number) => void,
    retentionCheckIntervalMs: number,
  ) {
    this.root = path.join(dataDir, 'topics');
    fs.mkdirSync(this.root, { recursive: true });
    for (const topic of fs.readdirSync(this.root)) this.load(topic);
    // Age-based retention must also run while nobody produces.
    this.retentionTimer = setInterval(() => this.enforceRetention(), retentionCheckIntervalMs);
    this.retentionTimer.unref();
  }

  private load(topic: string): void {
    const partitionCount = fs
      .readdirSync(path.join(this.root, topic))
      .filter((name) => /^\d+$/.test(name)).length;
    if (isValidTopicName(topic) && partitionCount > 0) this.open(topic, partitionCount);
  }

  private open(topic: string, partitionCount: number): void {
    const logs = Array.from({ length: partitionCount }, (_, partition) =>
      PartitionLog.open(path.join(this.root, topic, String(partition)), this.config, this.logger, () =>
        this.onPublish(topic, partition),
      ),
    );
    this.topics.set(topic, logs);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }

  has(topic: string): boolean {
    return this.topics.has(topic);
  }

  partitions(topic: string): readonly PartitionLog[] {
    return this.topics.get(topic) ?? [];
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.topics.get(topic)?.[partition];
  }

  create(topic: string, partitionCount: number): void {
    this.open(topic, partitionCount);
    // The new directories must survive a crash along with the first acknowledged append.
    if (this.config.fsync !== 'never') [path.join(this.root, topic), this.root].forEach(syncDirectory);
    this.logger.info({ topic, partitions: partitionCount }, 'kafka-broker: topic created');
  }

  async delete(topic: string): Promise<void> {
    const logs = this.topics.get(topic) ?? [];
    this.topics.delete(topic);
    await Promise.all(logs.map((log) => log.close()));
    fs.rmSync(path.join(this.root, topic), { recursive: true, force: true });
    this.logger.info({ topic }, 'kafka-broker: topic deleted');
  }

  private enforceRetention(): void {
    for (const logs of this.topics.values()) logs.forEach((log) => log.enforceRetention());
  }

  async close(): Promise<void> {
    clearInterval(this.retentionTimer);
    await Promise.all([...this.topics.values()].flat().map((log) => log.close()));
  }
}
