import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler } from './types';

/** JoinGroup (11): parked until every member has (re)joined or the rebalance timeout passes. */
export const joinGroupApi: ApiHandler = {
  apiKey: 11,
  name: 'JoinGroup',
  minVersion: 0,
  maxVersion: 5,
  async handle({ version, body, clientId, clientHost }, broker) {
    const groupId = body.string();
    const sessionTimeoutMs = body.int32();
    const rebalanceTimeoutMs = version >= 1 ? body.int32() : sessionTimeoutMs;
    const memberId = body.string();
    if (version >= 5) body.nullableString(); // group instance id: no static membership
    const protocolType = body.string();
    const protocols = body.array((item) => ({ name: item.string(), metadata: item.bytes() }));
    const result = await broker.groups.group(groupId).join({
      memberId,
      clientId,
      clientHost,
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      protocolType,
      protocols,
    });
    const writer = newResponse(version, 2);
    writer.int16(result.errorCode).int32(result.generationId).string(result.protocolName);
    writer.string(result.leaderId).string(result.memberId);
    return writer.array(result.members, (item, member) => {
      item.string(member.memberId);
      if (version >= 5) item.nullableString(member.groupInstanceId);
      item.bytes(member.metadata);
    });
  },
};

/** SyncGroup (14): followers wait for the leader's assignment. */
export const syncGroupApi: ApiHandler = {
  apiKey: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 3,
  async handle({ version, body }, broker) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    if (version >= 3) body.nullableString(); // group instance id
    const assignments = new Map(body.array((item) => [item.string(), item.bytes()] as const));
    const group = broker.groups.find(groupId);
    const result = group
      ? await group.sync(generationId, memberId, assignments)
      : { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) };
    const writer = newResponse(version, 1);
    return writer.int16(result.errorCode).bytes(result.assignment);
  },
};

/** Heartbeat (12): 27 tells a member to rejoin. */
export const heartbeatApi: ApiHandler = {
  apiKey: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 3,
  handle({ version, body }, broker) {
    const groupId = body.string();
    const generationId = body.int32();
    const memberId = body.string();
    if (version >= 3) body.nullableString(); // group instance id
    const errorCode =
      broker.groups.find(groupId)?.heartbeat(generationId, memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID;
    const writer = newResponse(version, 1);
    return writer.int16(errorCode);
  },
};

/** LeaveGroup (13): v0–v2 name one member, v3 a list of them. */
export const leaveGroupApi: ApiHandler = {
  apiKey: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 3,
  handle({ version, body }, broker) {
    const groupId = body.string();
    const members =
      version >= 3
        ? body.array((item) => ({ memberId: item.string(), groupInstanceId: item.nullableString() }))
        : [{ memberId: body.string(), groupInstanceId: null }];
    const group = broker.groups.find(groupId);
    const results = members.map((member) => ({
      ...member,
      errorCode: group?.leave(member.memberId) ?? ErrorCode.UNKNOWN_MEMBER_ID,
    }));
    const writer = newResponse(version, 1);
    if (version < 3) return writer.int16(results[0].errorCode);
    writer.int16(ErrorCode.NONE);
    return writer.array(results, (item, result) =>
      item.string(result.memberId).nullableString(result.groupInstanceId).int16(result.errorCode),
    );
  },
};
