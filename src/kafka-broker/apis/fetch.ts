import { ErrorCode } from '../protocol/error-codes';
import type { Reader } from '../protocol/reader';
import { Writer } from '../protocol/writer';
import { NO_THROTTLE, type ApiHandler, type BrokerContext } from './types';

interface PartitionRequest {
  topic: string;
  partition: number;
  fetchOffset: number;
  maxBytes: number;
}

interface PartitionData {
  request: PartitionRequest;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
}

interface FetchRequest {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitions: PartitionRequest[];
}

const NO_PREFERRED_REPLICA = -1;

function readFetchRequest(body: Reader, version: number): FetchRequest {
  body.int32(); // replica id
  const maxWaitMs = body.int32();
  const minBytes = body.int32();
  const maxBytes = body.int32();
  body.int8(); // isolation level: without transactions both levels read the same
  if (version >= 7) {
    // Fetch sessions (KIP-227) are not supported: every fetch is a full one.
    body.int32(); // session id
    body.int32(); // session epoch
  }
  const topics = body.array((topic) => {
    const name = topic.string();
    return topic.array((entry): PartitionRequest => {
      const partition = entry.int32();
      if (version >= 9) entry.int32(); // current leader epoch
      const fetchOffset = entry.int64();
      if (version >= 5) entry.int64(); // follower's log start offset
      return { topic: name, partition, fetchOffset, maxBytes: entry.int32() };
    });
  });
  // Forgotten topics (v7+) and rack id (v11) only matter with fetch sessions and replicas.
  return { maxWaitMs, minBytes, maxBytes, partitions: topics.flat() };
}

async function readPartition(
  broker: BrokerContext,
  request: PartitionRequest,
  budget: number,
): Promise<PartitionData> {
  const log = broker.topics.partition(request.topic, request.partition);
  if (!log) {
    const errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    return { request, errorCode, highWatermark: -1, logStartOffset: -1, records: Buffer.alloc(0) };
  }
  const { highWatermark, logStartOffset } = log;
  const inRange = request.fetchOffset >= logStartOffset && request.fetchOffset <= highWatermark;
  const records =
    inRange && budget > 0
      ? await log.read(request.fetchOffset, Math.min(request.maxBytes, budget))
      : Buffer.alloc(0);
  const errorCode = inRange ? ErrorCode.NONE : ErrorCode.OFFSET_OUT_OF_RANGE;
  return { request, errorCode, highWatermark, logStartOffset, records };
}

/** Reads partitions in order within max_bytes; the first batch found is always included (KIP-74). */
async function readPartitions(broker: BrokerContext, fetch: FetchRequest): Promise<PartitionData[]> {
  const results: PartitionData[] = [];
  let size = 0;
  for (const request of fetch.partitions) {
    const budget = size === 0 ? Number.MAX_SAFE_INTEGER : fetch.maxBytes - size;
    const data = await readPartition(broker, request, budget);
    size += data.records.length;
    results.push(data);
  }
  return results;
}

function byteCount(results: PartitionData[]): number {
  return results.reduce((sum, data) => sum + data.records.length, 0);
}

/** True if data was published after these results were read, so waiting could miss its wake-up. */
function hasNewData(broker: BrokerContext, results: PartitionData[]): boolean {
  return results.some(
    ({ request, highWatermark }) =>
      (broker.topics.partition(request.topic, request.partition)?.highWatermark ?? highWatermark) >
      highWatermark,
  );
}

/** Long-poll: hold the request until min_bytes are available or max_wait_ms has passed. */
async function longPoll(broker: BrokerContext, fetch: FetchRequest): Promise<PartitionData[]> {
  const deadline = Date.now() + fetch.maxWaitMs;
  let results = await readPartitions(broker, fetch);
  const hasErrors = () => results.some((data) => data.errorCode !== ErrorCode.NONE);
  while (byteCount(results) < Math.max(fetch.minBytes, 1) && !hasErrors() && !broker.isStopping()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    if (!hasNewData(broker, results)) await broker.notifier.waitForAppend(fetch.partitions, remaining);
    results = await readPartitions(broker, fetch);
  }
  return results;
}

function writeResponse(version: number, results: PartitionData[]): Writer {
  const writer = new Writer().int32(NO_THROTTLE);
  if (version >= 7) writer.int16(ErrorCode.NONE).int32(0); // error, session id
  const topics = [...new Set(results.map((data) => data.request.topic))];
  return writer.array(topics, (topic, name) =>
    topic.string(name).array(
      results.filter((data) => data.request.topic === name),
      (entry, data) => {
        entry.int32(data.request.partition).int16(data.errorCode).int64(data.highWatermark);
        entry.int64(data.highWatermark); // last stable offset: no transactions
        if (version >= 5) entry.int64(data.logStartOffset);
        entry.int32(0); // aborted transactions
        if (version >= 11) entry.int32(NO_PREFERRED_REPLICA);
        entry.bytes(data.records); // empty, never null: librdkafka rejects a null record set
      },
    ),
  );
}

/** Fetch (1), v4+: whole stored batches from the one holding fetch_offset. */
export const fetchApi: ApiHandler = {
  apiKey: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  async handle({ version, body }, broker) {
    return writeResponse(version, await longPoll(broker, readFetchRequest(body, version)));
  },
};
