import fs from 'node:fs';
import type { Logger } from '../logger';
import { AppendFile, type FsyncPolicy } from './append-file';
import { replaceFileDurably } from './durable-write';

export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  metadata: string | null;
}

/** One line of the offsets journal: a commit, or the removal of a deleted topic's offsets. */
type JournalLine =
  | { group: string; topic: string; partition: number; offset: number; metadata: string | null }
  | { deletedTopic: string };

/**
 * Committed group offsets, kept in memory and journaled as JSON lines. The journal is compacted on start-up,
 * which also drops a torn last line.
 */
export class OffsetStore {
  /** group -> topic -> partition -> offset */
  private readonly groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  private readonly journal: AppendFile;

  constructor(
    private readonly journalPath: string,
    fsync: FsyncPolicy,
    fsyncIntervalMs: number,
    logger: Logger,
  ) {
    const skipped = this.replay();
    if (skipped > 0)
      logger.warn({ path: journalPath, skipped }, 'kafka-broker: skipped unreadable offset journal lines');
    this.compact();
    this.journal = new AppendFile(journalPath, fsync, fsyncIntervalMs);
  }

  private replay(): number {
    if (!fs.existsSync(this.journalPath)) return 0;
    let skipped = 0;
    for (const line of fs.readFileSync(this.journalPath, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        this.apply(JSON.parse(line) as JournalLine);
      } catch {
        skipped++;
      }
    }
    return skipped;
  }

  /** Rewrites the journal as one line per live offset. */
  private compact(): void {
    const lines = this.groupIds().flatMap((group) =>
      this.committed(group).map((entry) => JSON.stringify({ group, ...entry }) + '\n'),
    );
    replaceFileDurably(this.journalPath, lines.join(''));
  }

  private apply(line: JournalLine): void {
    if ('deletedTopic' in line) {
      for (const topics of this.groups.values()) topics.delete(line.deletedTopic);
      return;
    }
    const { group, ...entry } = line;
    const topics = this.groups.get(group) ?? new Map<string, Map<number, CommittedOffset>>();
    const partitions = topics.get(entry.topic) ?? new Map<number, CommittedOffset>();
    partitions.set(entry.partition, entry);
    topics.set(entry.topic, partitions);
    this.groups.set(group, topics);
  }

  private async write(lines: JournalLine[]): Promise<void> {
    await this.journal.append(Buffer.from(lines.map((line) => JSON.stringify(line) + '\n').join(''))).durable;
    lines.forEach((line) => this.apply(line));
  }

  /** Resolves once the commit is durable per the fsync policy; readers see it from then on. */
  commit(group: string, offsets: CommittedOffset[]): Promise<void> {
    return this.write(offsets.map((entry) => ({ group, ...entry })));
  }

  deleteTopic(topic: string): Promise<void> {
    return this.write([{ deletedTopic: topic }]);
  }

  get(group: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.groups.get(group)?.get(topic)?.get(partition);
  }

  committed(group: string): CommittedOffset[] {
    return [...(this.groups.get(group)?.values() ?? [])].flatMap((partitions) => [...partitions.values()]);
  }

  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
