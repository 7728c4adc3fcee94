import fs from 'node:fs';
import path from 'node:path';
import { OffsetStore } from '../../src/kafka-broker/log/offset-store';
import { makeDataDir } from './helpers';

const warnings: string[] = [];
const logger = {
  info: () => undefined,
  warn: (_: object | string, msg?: string) => warnings.push(msg ?? ''),
  error: () => undefined,
};

function open(file: string, compactAfterBytes?: number): OffsetStore {
  return new OffsetStore(file, 'always', 1000, logger, compactAfterBytes);
}

test('the journal is compacted once it outgrows its bound, and the latest offsets survive reopening', async () => {
  const file = path.join(makeDataDir(), 'offsets.jsonl');
  const store = open(file, 2048);
  let largest = 0;
  for (let i = 1; i <= 300; i++) {
    const partition = i % 3;
    await store.commit('g', [{ topic: 't', partition, offset: i, metadata: null }]);
    largest = Math.max(largest, fs.statSync(file).size);
  }
  expect(largest).toBeLessThan(2048 + 200); // bound plus one line
  await store.close();

  const reopened = open(file);
  expect([0, 1, 2].map((partition) => reopened.get('g', 't', partition)?.offset)).toEqual([300, 298, 299]);
  await reopened.close();
});

test('concurrent commits around a compaction are all kept', async () => {
  const file = path.join(makeDataDir(), 'offsets.jsonl');
  const store = open(file, 512);
  await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      store.commit(`group-${i}`, [{ topic: 't', partition: 0, offset: i, metadata: 'm' }]),
    ),
  );
  await store.close();
  const reopened = open(file);
  expect(reopened.groupIds()).toHaveLength(200);
  expect(reopened.get('group-199', 't', 0)).toEqual({ topic: 't', partition: 0, offset: 199, metadata: 'm' });
  await reopened.close();
});

test('a torn last line is skipped with a warning; deleted topics lose their offsets', async () => {
  const file = path.join(makeDataDir(), 'offsets.jsonl');
  const store = open(file);
  await store.commit('g', [{ topic: 'kept', partition: 0, offset: 5, metadata: null }]);
  await store.commit('g', [{ topic: 'gone', partition: 0, offset: 7, metadata: null }]);
  await store.deleteTopic('gone');
  await store.close();
  fs.appendFileSync(file, '{"group":"g","topic":"kep');

  const reopened = open(file);
  expect(warnings.some((line) => line.includes('skipped unreadable'))).toBe(true);
  expect(reopened.committed('g')).toEqual([{ topic: 'kept', partition: 0, offset: 5, metadata: null }]);
  await reopened.close();
});
