import { ErrorCode } from '../protocol/error-codes';
import { newResponse, type ApiHandler } from './types';

/** FindCoordinator (10): this node coordinates every group. */
export const findCoordinatorApi: ApiHandler = {
  apiKey: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  handle({ version, body }, broker) {
    body.string(); // key
    if (version >= 1) body.int8(); // key type
    const writer = newResponse(version, 1);
    writer.int16(ErrorCode.NONE);
    if (version >= 1) writer.nullableString(null);
    return writer.int32(broker.nodeId).string(broker.advertisedHost).int32(broker.advertisedPort);
  },
};
