import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';
import { ErrorCode } from '../protocol/error-codes';
import type { GroupSnapshot } from './group-store';
import { Member, type JoinResult, type Protocol, type SyncResult } from './member';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable';

// Kafka's default group.min/max.session.timeout.ms.
const MIN_SESSION_TIMEOUT_MS = 6_000;
const MAX_SESSION_TIMEOUT_MS = 1_800_000;

export interface JoinRequest {
  memberId: string;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
}

function failedJoin(errorCode: number, memberId: string): JoinResult {
  return { errorCode, generationId: -1, protocolName: '', leaderId: '', memberId, members: [] };
}

function failedSync(errorCode: number): SyncResult {
  return { errorCode, assignment: Buffer.alloc(0) };
}

/** One consumer group under the classic rebalance protocol (Empty → PreparingRebalance → CompletingRebalance → Stable). */
export class Group {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType = '';
  protocolName = '';
  leaderId = '';
  readonly members = new Map<string, Member>();
  private rebalanceTimer: NodeJS.Timeout | null = null;
  /** Membership of the last synced generation; null once Empty. */
  stableSnapshot: GroupSnapshot | null = null;

  constructor(
    readonly groupId: string,
    private readonly logger: Logger,
    /** Called when `stableSnapshot` changes, to persist it. */
    private readonly onSnapshot: () => void,
  ) {}

  /** A group as saved before a restart: Stable, with every member's session clock started afresh. */
  static restore(snapshot: GroupSnapshot, logger: Logger, onSnapshot: () => void): Group {
    const group = new Group(snapshot.groupId, logger, onSnapshot);
    group.generationId = snapshot.generationId;
    group.protocolType = snapshot.protocolType;
    group.protocolName = snapshot.protocolName;
    group.leaderId = snapshot.leaderId;
    group.state = 'Stable';
    group.stableSnapshot = snapshot;
    for (const member of snapshot.members.map((each) => Member.fromSnapshot(each))) {
      group.members.set(member.memberId, member);
      group.keepAlive(member);
    }
    return group;
  }

  join(request: JoinRequest): Promise<JoinResult> {
    const rejection = this.joinRejection(request);
    if (rejection) return Promise.resolve(failedJoin(rejection, request.memberId));
    const member =
      this.members.get(request.memberId) ??
      new Member(`${request.clientId}-${randomUUID()}`, request.clientId, request.clientHost);
    this.members.set(member.memberId, member);
    member.protocols = request.protocols;
    member.sessionTimeoutMs = request.sessionTimeoutMs;
    // Timers beyond 2^31 ms fire at once in Node; Kafka's session bound is a sane ceiling.
    member.rebalanceTimeoutMs = Math.min(request.rebalanceTimeoutMs, MAX_SESSION_TIMEOUT_MS);
    member.stopSessionTimer(); // parked joins do not expire
    this.protocolType = request.protocolType;
    const result = new Promise<JoinResult>((resolve) => {
      member.pendingJoin?.(failedJoin(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
      member.pendingJoin = resolve;
    });
    if (this.state !== 'PreparingRebalance') this.prepareRebalance();
    this.tryCompleteJoin();
    return result;
  }

  private joinRejection(request: JoinRequest): number {
    if (
      request.sessionTimeoutMs < MIN_SESSION_TIMEOUT_MS ||
      request.sessionTimeoutMs > MAX_SESSION_TIMEOUT_MS
    ) {
      return ErrorCode.INVALID_SESSION_TIMEOUT;
    }
    if (request.memberId !== '' && !this.members.has(request.memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    const others = [...this.members.values()].filter((member) => member.memberId !== request.memberId);
    const shared = request.protocols.some(({ name }) =>
      others.every((member) => member.protocols.some((protocol) => protocol.name === name)),
    );
    const sameType = others.length === 0 || this.protocolType === request.protocolType;
    return shared && sameType ? ErrorCode.NONE : ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
  }

  private prepareRebalance(): void {
    for (const member of this.members.values())
      this.answerSync(member, failedSync(ErrorCode.REBALANCE_IN_PROGRESS));
    this.state = 'PreparingRebalance';
    const timeoutMs = Math.max(...[...this.members.values()].map((member) => member.rebalanceTimeoutMs));
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), timeoutMs);
  }

  private tryCompleteJoin(): void {
    const everyoneJoined = [...this.members.values()].every((member) => member.pendingJoin);
    if (this.state === 'PreparingRebalance' && everyoneJoined) this.completeJoin();
  }

  /** Starts the next generation with the members that rejoined; the others are dropped. */
  private completeJoin(): void {
    this.clearRebalanceTimer();
    for (const member of this.members.values())
      if (!member.pendingJoin) this.remove(member, 'did not rejoin');
    if (this.members.size === 0) return this.becomeEmpty();
    this.generationId++;
    this.protocolName = this.electProtocol();
    if (!this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.state = 'CompletingRebalance';
    const everyone = [...this.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: null,
      metadata: member.metadataFor(this.protocolName),
    }));
    for (const member of this.members.values()) {
      const answer = member.pendingJoin!;
      member.pendingJoin = null;
      this.keepAlive(member);
      answer({
        errorCode: ErrorCode.NONE,
        generationId: this.generationId,
        protocolName: this.protocolName,
        leaderId: this.leaderId,
        memberId: member.memberId,
        members: member.memberId === this.leaderId ? everyone : [],
      });
    }
  }

  /** The protocol supported by every member that most members list first (Kafka's vote). */
  private electProtocol(): string {
    const members = [...this.members.values()];
    const candidates = members[0].protocols
      .map(({ name }) => name)
      .filter((name) =>
        members.every((member) => member.protocols.some((protocol) => protocol.name === name)),
      );
    const votes = (name: string): number =>
      members.filter(
        (member) => member.protocols.find(({ name: own }) => candidates.includes(own))?.name === name,
      ).length;
    // Every member votes for one candidate, so the winner has at least one vote and beats the '' seed.
    return candidates.reduce((best, name) => (votes(name) > votes(best) ? name : best), '');
  }

  sync(generationId: number, memberId: string, assignments: Map<string, Buffer>): Promise<SyncResult> {
    const member = this.members.get(memberId);
    const errorCode = this.memberCheck(member, generationId);
    if (!member || errorCode) return Promise.resolve(failedSync(errorCode));
    if (this.state === 'PreparingRebalance')
      return Promise.resolve(failedSync(ErrorCode.REBALANCE_IN_PROGRESS));
    this.keepAlive(member);
    if (this.state === 'Stable')
      return Promise.resolve({ errorCode: ErrorCode.NONE, assignment: member.assignment });
    const result = new Promise<SyncResult>((resolve) => (member.pendingSync = resolve));
    if (memberId === this.leaderId) {
      for (const each of this.members.values())
        each.assignment = assignments.get(each.memberId) ?? Buffer.alloc(0);
      this.becomeStable();
      for (const each of this.members.values()) {
        this.answerSync(each, { errorCode: ErrorCode.NONE, assignment: each.assignment });
      }
    }
    return result;
  }

  heartbeat(generationId: number, memberId: string): number {
    const member = this.members.get(memberId);
    const errorCode = this.memberCheck(member, generationId);
    if (!member || errorCode) return errorCode;
    this.keepAlive(member);
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Kafka's OffsetCommit checks; an accepted commit also counts as a heartbeat. */
  commitCheck(generationId: number, memberId: string): number {
    const standalone = generationId < 0 && memberId === '' && this.state === 'Empty';
    if (standalone) return ErrorCode.NONE;
    const member = this.members.get(memberId);
    const errorCode = this.memberCheck(member, generationId);
    if (!member || errorCode) return errorCode;
    if (this.state === 'CompletingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    this.keepAlive(member);
    return ErrorCode.NONE;
  }

  leave(memberId: string): number {
    const member = this.members.get(memberId);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.remove(member, 'left');
    this.afterRemoval();
    return ErrorCode.NONE;
  }

  private memberCheck(member: Member | undefined, generationId: number): number {
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    return generationId === this.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
  }

  private keepAlive(member: Member): void {
    if (member.pendingJoin) return;
    member.touch(() => {
      this.remove(member, 'session expired');
      this.afterRemoval();
    });
  }

  private remove(member: Member, reason: string): void {
    member.stopSessionTimer();
    this.members.delete(member.memberId);
    member.pendingJoin?.(failedJoin(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    this.answerSync(member, failedSync(ErrorCode.UNKNOWN_MEMBER_ID));
    this.logger.info(
      { groupId: this.groupId, memberId: member.memberId, reason },
      'kafka-broker: member removed',
    );
  }

  private afterRemoval(): void {
    if (this.members.size === 0) this.becomeEmpty();
    else if (this.state === 'PreparingRebalance') this.tryCompleteJoin();
    else this.prepareRebalance();
  }

  private answerSync(member: Member, result: SyncResult): void {
    const answer = member.pendingSync;
    member.pendingSync = null;
    answer?.(result);
  }

  private becomeStable(): void {
    this.state = 'Stable';
    this.stableSnapshot = {
      groupId: this.groupId,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leaderId: this.leaderId,
      members: [...this.members.values()].map((member) => member.toSnapshot()),
    };
    this.onSnapshot();
  }

  private becomeEmpty(): void {
    this.clearRebalanceTimer();
    this.state = 'Empty';
    this.protocolName = '';
    this.leaderId = '';
    this.stableSnapshot = null;
    this.onSnapshot();
  }

  private clearRebalanceTimer(): void {
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = null;
  }

  /** Broker shutdown: no timer may outlive it. */
  shutdown(): void {
    this.clearRebalanceTimer();
    for (const member of this.members.values()) member.stopSessionTimer();
  }
}
