import type { GroupCoordinator } from '../group/coordinator';
import type { Logger } from '../logger';
import type { AppendNotifier } from '../log/append-notifier';
import type { OffsetStore } from '../log/offset-store';
import type { TopicStore } from '../log/topic-store';
import type { Reader } from '../protocol/reader';
import { Writer } from '../protocol/writer';

/** Everything the API handlers share: this broker's identity, settings and state. */
export interface BrokerContext {
  nodeId: number;
  clusterId: string;
  /** The address put in Metadata and FindCoordinator answers; clients must see the one they bootstrapped with. */
  advertisedHost: string;
  advertisedPort: number;
  autoCreateTopics: boolean;
  defaultPartitions: number;
  allowedCodecs: ReadonlySet<number>;
  topics: TopicStore;
  offsets: OffsetStore;
  groups: GroupCoordinator;
  notifier: AppendNotifier;
  logger: Logger;
  allocateProducerId(): number;
  isStopping(): boolean;
}

export interface ApiRequest {
  version: number;
  /** The request body, after the header. */
  body: Reader;
  clientId: string;
  clientHost: string;
}

export interface ApiHandler {
  apiKey: number;
  name: string;
  minVersion: number;
  maxVersion: number;
  /** From this version on the request header carries tagged fields (header v2). */
  flexibleFromVersion?: number;
  /** Returns the response body, or null when the request gets no response (Produce with acks = 0). */
  handle(request: ApiRequest, broker: BrokerContext): Promise<Writer | null> | Writer;
  /** Answers a version outside the range instead of closing the connection (ApiVersions only, KIP-511). */
  answerUnsupportedVersion?(): Writer;
}

/** Every response of the advertised versions carries throttle_time_ms; this broker never throttles. */
export const NO_THROTTLE = 0;

/** A response writer, starting with throttle_time_ms (always 0) from the version that has it. */
export function newResponse(version: number, firstVersionWithThrottle: number): Writer {
  const writer = new Writer();
  return version >= firstVersionWithThrottle ? writer.int32(NO_THROTTLE) : writer;
}
