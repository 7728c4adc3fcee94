import { ErrorCode } from '../protocol/error-codes';
import { Writer } from '../protocol/writer';
import { NO_THROTTLE, type ApiHandler } from './types';

type ApiRange = Pick<ApiHandler, 'apiKey' | 'minVersion' | 'maxVersion'>;

const API_VERSIONS = { apiKey: 18, minVersion: 0, maxVersion: 3 };
/** v3 is flexible: compact array, tagged fields (but still response header v0). */
const FIRST_FLEXIBLE_VERSION = 3;

function writeClassic(writer: Writer, table: ApiRange[]): Writer {
  return writer.array(table, (item, api) =>
    item.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion),
  );
}

/** ApiVersions (18), advertising the given handlers plus itself. */
export function createApiVersionsApi(others: ApiRange[]): ApiHandler {
  const table = [...others, API_VERSIONS].sort((a, b) => a.apiKey - b.apiKey);
  return {
    ...API_VERSIONS,
    name: 'ApiVersions',
    flexibleFromVersion: FIRST_FLEXIBLE_VERSION,
    // The v3 request body (client software name and version) is informational only, so it is not read.
    handle({ version }) {
      const writer = new Writer().int16(ErrorCode.NONE);
      if (version < FIRST_FLEXIBLE_VERSION) {
        writeClassic(writer, table);
        return version >= 1 ? writer.int32(NO_THROTTLE) : writer;
      }
      writer.compactArray(table, (item, api) =>
        item.int16(api.apiKey).int16(api.minVersion).int16(api.maxVersion).emptyTaggedFields(),
      );
      return writer.int32(NO_THROTTLE).emptyTaggedFields();
    },
    // KIP-511: a too-new ApiVersions gets error 35 in the v0 layout, with the table, so the client can step down.
    answerUnsupportedVersion() {
      return writeClassic(new Writer().int16(ErrorCode.UNSUPPORTED_VERSION), table);
    },
  };
}
