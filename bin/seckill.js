#!/usr/bin/env node
// The `seckill` command runs the compiled service (dist/, made by `npm run build`). A checkout that was never
// built still works: it says so and runs the TypeScript through tsx, as `npm run dev` does.
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, '..', 'dist', 'main.js');
if (fs.existsSync(compiled)) {
  require(compiled);
} else {
  process.stderr.write('seckill: dist/ is missing (run `npm run build`); running src/ through tsx instead\n');
  require('tsx/cjs');
  require('../src/main.ts');
}
