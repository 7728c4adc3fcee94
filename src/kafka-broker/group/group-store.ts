import fs from 'node:fs';
import type { Logger } from '../logger';
import { replaceFileDurably } from '../log/durable-write';

export interface MemberSnapshot {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  /** Protocol metadata and assignment as base64. */
  protocols: { name: string; metadata: string }[];
  assignment: string;
}

export interface GroupSnapshot {
  groupId: string;
  generationId: number;
  protocolType: string;
  protocolName: string;
  leaderId: string;
  members: MemberSnapshot[];
}

/**
 * The membership of Stable groups, saved when a generation is synced or a group empties (as Kafka writes group
 * metadata), so that running consumers keep their member id and generation across a broker restart instead of
 * rejoining and re-reading their last uncommitted batch.
 */
export class GroupStore {
  constructor(
    private readonly filePath: string,
    private readonly logger: Logger,
  ) {}

  load(): GroupSnapshot[] {
    if (!fs.existsSync(this.filePath)) return [];
    try {
      return JSON.parse(fs.readFileSync(this.filePath, 'utf8')) as GroupSnapshot[];
    } catch (error) {
      this.logger.warn({ err: error, path: this.filePath }, 'kafka-broker: ignored unreadable group file');
      return [];
    }
  }

  /** Never throws: it runs from session timers, and losing it only costs clients a rejoin. */
  save(snapshots: GroupSnapshot[]): void {
    try {
      replaceFileDurably(this.filePath, JSON.stringify(snapshots));
    } catch (error) {
      this.logger.error({ err: error, path: this.filePath }, 'kafka-broker: could not save group membership');
    }
  }
}
