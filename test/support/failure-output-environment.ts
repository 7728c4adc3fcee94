// Jest's node environment, plus: when a test (or a hook) fails, the recent output of the service and of every child
// process the test file started is printed under it (see src/infra/output-tails.ts). A failure seen once in CI is
// then readable from CI's output alone.
import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';
import { recentOutput } from '../../src/infra/output-tails';

export default class FailureOutputEnvironment extends TestEnvironment {
  handleTestEvent(event: Circus.Event): void {
    if (event.name === 'test_done' && event.test.errors.length > 0)
      this.printOutput(`test "${event.test.name}"`);
    if (event.name === 'hook_failure') this.printOutput(`${event.hook.type} hook`);
  }

  private printOutput(failed: string): void {
    const sources = recentOutput(this.global);
    const header = `\n━━ ${failed} failed: the last output of the service and child processes (${sources.length} sources)`;
    const body = sources.map(([source, tail]) => `── ${source}\n${tail.trimEnd()}`).join('\n');
    process.stderr.write(`${header}\n${body || '(none recorded)'}\n━━ end of output\n`);
  }
}
