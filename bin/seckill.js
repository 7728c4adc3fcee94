#!/usr/bin/env node
// The `seckill` command: runs the TypeScript entry through tsx (no build step).
require('tsx/cjs');
require('../src/main.ts');
