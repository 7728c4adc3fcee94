/** @type {import('jest').Config} */
module.exports = {
  // Node's environment that prints the service's and children's recent output under a failed test.
  testEnvironment: '<rootDir>/test/support/failure-output-environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 60_000,
  // A test that fails half-way can leave a child process's pipe open; the run must still end with its verdict rather
  // than hold CI until its time limit. Tests kill their children in `finally`; this is the backstop.
  forceExit: true,
};
