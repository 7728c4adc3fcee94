import { createApiVersionsApi } from './api-versions';
import { fetchApi } from './fetch';
import { findCoordinatorApi } from './find-coordinator';
import { describeGroupsApi, listGroupsApi } from './group-admin';
import { heartbeatApi, joinGroupApi, leaveGroupApi, syncGroupApi } from './group-membership';
import { initProducerIdApi } from './init-producer-id';
import { listOffsetsApi } from './list-offsets';
import { metadataApi } from './metadata';
import { offsetCommitApi, offsetFetchApi } from './offsets';
import { produceApi } from './produce';
import { createTopicsApi, deleteTopicsApi } from './topics';
import type { ApiHandler } from './types';

const dataApis: ApiHandler[] = [
  produceApi,
  fetchApi,
  listOffsetsApi,
  metadataApi,
  offsetCommitApi,
  offsetFetchApi,
  findCoordinatorApi,
  joinGroupApi,
  heartbeatApi,
  leaveGroupApi,
  syncGroupApi,
  describeGroupsApi,
  listGroupsApi,
  createTopicsApi,
  deleteTopicsApi,
  initProducerIdApi,
];

/** The 17 supported APIs by key; ApiVersions advertises exactly these ranges. */
export const apiHandlers: ReadonlyMap<number, ApiHandler> = new Map(
  [...dataApis, createApiVersionsApi(dataApis)].map((api) => [api.apiKey, api]),
);
