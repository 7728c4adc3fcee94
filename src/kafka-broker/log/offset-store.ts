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

const DEFAULT_COMPACT_AFTER_BYTES = 16 * 1024 * 1024;

/** One line of the offsets journal: a commit, or the removal of a deleted topic's offsets. */
type JournalLine =
  | { group: string; topic: string; partition: number; offset: number; metadata: string | null }
  | { deletedTopic: string };

/**
 * Committed group offsets, kept in memory and journaled as JSON lines. The journal is compacted on start-up (which
 * also drops a torn last line) and whenever it outgrows `compactAfterBytes`.
 */
export class OffsetStore {
  /** group -> topic -> partition -> offset */
  private readonly groups = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  private journal: AppendFile;

  constructor(
    private readonly journalPath: string,
    private readonly fsync: FsyncPolicy,
    private readonly fsyncIntervalMs: number,
    logger: Logger,
    /** kafkajs commits after every batch: past this size the journal is rewritten as a snapshot. */
    private readonly compactAfterBytes = DEFAULT_COMPACT_AFTER_BYTES,
  ) {
    const skipped = this.replay();
    if (skipped > 0)
      logger.warn({ path: journalPath, skipped }, 'kafka-broker: skipped unreadable offset journal lines');
    this.journal = this.startJournal();
  }

  /** Snapshots the live offsets into a fresh journal file and opens it for appends. */
  private startJournal(): AppendFile {
    this.compact();
    return new AppendFile(this.journalPath, this.fsync, this.fsyncIntervalMs);
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

  /**
   * Applied in memory first, so that a compaction snapshot includes commits still being written; readers may
   * thus see a commit just before it is acknowledged.
   */
  private async write(lines: JournalLine[]): Promise<void> {
    lines.forEach((line) => this.apply(line));
    if (this.journal.size < this.compactAfterBytes) {
      await this.journal.append(Buffer.from(lines.map((line) => JSON.stringify(line) + '\n').join('')))
        .durable;
      return;
    }
    // The snapshot is synced before it replaces the journal, so it makes these lines durable too.
    const previous = this.journal;
    this.journal = this.startJournal();
    await previous.close();
  }

  /** Resolves once the commit is durable per the fsync policy. */
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
