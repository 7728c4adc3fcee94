// The k6 scripts must parse as ES2017 modules: k6 v0.48 refused them at an object spread (`SyntaxError … Unexpected
// token`), and older k6 releases accept no newer syntax. acorn with ecmaVersion 2017 rejects what those k6 reject.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'acorn';

const LOADTEST_DIR = join(__dirname, '..', '..', 'loadtest');
const scripts = readdirSync(LOADTEST_DIR).filter((name) => name.endsWith('.js'));

const parse2017 = (source: string) => parse(source, { ecmaVersion: 2017, sourceType: 'module' });

it('finds the k6 scripts', () => {
  expect(scripts).toEqual(
    expect.arrayContaining(['lib.js', 'spike.js', 'fairness.js', 'duplicates.js', 'waiting-room.js']),
  );
});

it.each(scripts)('loadtest/%s parses as an ES2017 module', (name) => {
  expect(() => parse2017(readFileSync(join(LOADTEST_DIR, name), 'utf8'))).not.toThrow();
});

// The check itself must be able to fail: newer syntax that slipped into the scripts before is refused.
it.each([
  ['object spread', 'const a = { ...b };'],
  ['optional chaining', 'const a = b?.c;'],
  ['nullish coalescing', 'const a = b ?? c;'],
  ['optional catch binding', 'try { f(); } catch { g(); }'],
])('refuses %s', (_what, source) => {
  expect(() => parse2017(source)).toThrow(SyntaxError);
});
