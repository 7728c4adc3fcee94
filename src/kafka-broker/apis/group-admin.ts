import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler } from './types';

/** DescribeGroups (15): an unknown group is reported as Dead, without error, as Kafka does. */
export const describeGroupsApi: ApiHandler = {
  apiKey: 15,
  name: 'DescribeGroups',
  minVersion: 0,
  maxVersion: 2,
  handle({ version, body }, broker) {
    const groupIds = body.array((item) => item.string());
    const writer = newResponse(version, 1);
    return writer.array(groupIds, (item, groupId) => {
      const group = broker.groups.find(groupId);
      item
        .int16(ErrorCode.NONE)
        .string(groupId)
        .string(group?.state ?? 'Dead');
      item.string(group?.protocolType ?? '').string(group?.protocolName ?? '');
      item.array([...(group?.members.values() ?? [])], (entry, member) => {
        entry.string(member.memberId).string(member.clientId).string(member.clientHost);
        entry.bytes(member.metadataFor(group!.protocolName)).bytes(member.assignment);
      });
    });
  },
};

/** ListGroups (16): groups with members or with committed offsets. */
export const listGroupsApi: ApiHandler = {
  apiKey: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 2,
  handle({ version }, broker) {
    const groupIds = new Set([
      ...broker.groups.list().map((group) => group.groupId),
      ...broker.offsets.groupIds(),
    ]);
    const writer = newResponse(version, 1);
    writer.int16(ErrorCode.NONE);
    return writer.array([...groupIds], (item, groupId) =>
      item.string(groupId).string(broker.groups.find(groupId)?.protocolType || 'consumer'),
    );
  },
};
