// `npm test` prints, under a failed test, what the service and the test's child processes last wrote: a failure seen
// once in CI must be readable from CI's output alone. A fixture test that fails on purpose is run in a jest of its
// own, and its output must hold its child's line under the failed test's name.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

const root = join(__dirname, '../..');

test("a failed test's output holds its children's last output", () => {
  const mark = randomBytes(6).toString('hex');
  const config = {
    rootDir: root,
    roots: ['<rootDir>/test/support/fixtures'],
    testMatch: ['**/*.fixture.ts'],
    testEnvironment: '<rootDir>/test/support/failure-output-environment.ts',
    transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  };
  const run = spawnSync(
    process.execPath,
    [join(root, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(config), '--ci'],
    { cwd: root, encoding: 'utf8', env: { ...process.env, FIXTURE_MARK: mark }, timeout: 60_000 },
  );
  const output = run.stdout + run.stderr;
  expect(run.status).toBe(1);
  expect(output).toContain('test "fails while its child runs" failed');
  expect(output).toMatch(new RegExp(`── noisy-child\\n.*noisy child ${mark} is up`));
}, 90_000);
