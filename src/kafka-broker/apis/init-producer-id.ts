import { ErrorCode } from '../protocol/error-codes';
import { Writer } from '../protocol/writer';
import { NO_THROTTLE, type ApiHandler } from './types';

/** InitProducerId (22): ids for idempotent producers; transactions are refused with a non-retriable error. */
export const initProducerIdApi: ApiHandler = {
  apiKey: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  handle({ body }, broker) {
    const transactionalId = body.nullableString();
    body.int32(); // transaction timeout
    const writer = new Writer().int32(NO_THROTTLE);
    if (transactionalId !== null) {
      return writer.int16(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED).int64(-1).int16(-1);
    }
    return writer.int16(ErrorCode.NONE).int64(broker.allocateProducerId()).int16(0);
  },
};
