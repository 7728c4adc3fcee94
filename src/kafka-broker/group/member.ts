import type { MemberSnapshot } from './group-store';

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolName: string;
  leaderId: string;
  memberId: string;
  /** Filled for the leader only: every member's metadata for the chosen protocol. */
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  assignment: Buffer;
}

export class Member {
  protocols: Protocol[] = [];
  sessionTimeoutMs = 0;
  rebalanceTimeoutMs = 0;
  assignment: Buffer = Buffer.alloc(0);
  /** Set while the member's JoinGroup is parked until the rebalance completes. */
  pendingJoin: ((result: JoinResult) => void) | null = null;
  /** Set while the member's SyncGroup waits for the leader's assignment. */
  pendingSync: ((result: SyncResult) => void) | null = null;
  private sessionTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly memberId: string,
    readonly clientId: string,
    readonly clientHost: string,
  ) {}

  static fromSnapshot(snapshot: MemberSnapshot): Member {
    const member = new Member(snapshot.memberId, snapshot.clientId, snapshot.clientHost);
    member.sessionTimeoutMs = snapshot.sessionTimeoutMs;
    member.rebalanceTimeoutMs = snapshot.rebalanceTimeoutMs;
    member.protocols = snapshot.protocols.map(({ name, metadata }) => ({
      name,
      metadata: Buffer.from(metadata, 'base64'),
    }));
    member.assignment = Buffer.from(snapshot.assignment, 'base64');
    return member;
  }

  toSnapshot(): MemberSnapshot {
    return {
      memberId: this.memberId,
      clientId: this.clientId,
      clientHost: this.clientHost,
      sessionTimeoutMs: this.sessionTimeoutMs,
      rebalanceTimeoutMs: this.rebalanceTimeoutMs,
      protocols: this.protocols.map(({ name, metadata }) => ({
        name,
        metadata: metadata.toString('base64'),
      })),
      assignment: this.assignment.toString('base64'),
    };
  }

  metadataFor(protocolName: string): Buffer {
    return this.protocols.find((protocol) => protocol.name === protocolName)?.metadata ?? Buffer.alloc(0);
  }

  /** (Re)starts the session clock; `onExpiry` runs if no heartbeat, sync or commit arrives in time. */
  touch(onExpiry: () => void): void {
    this.stopSessionTimer();
    this.sessionTimer = setTimeout(onExpiry, this.sessionTimeoutMs);
  }

  stopSessionTimer(): void {
    if (this.sessionTimer) clearTimeout(this.sessionTimer);
    this.sessionTimer = null;
  }
}
