#!/usr/bin/env node
// npm run build: compiles src/ (the generated Prisma client included) to dist/ and copies the files the compiled
// code reads at run time next to it. dist/ is emptied first so a file deleted from src/ cannot live on there.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
// Read through __dirname by the compiled code (src/stock/scripts.ts and src/waiting-room/redis-room.ts load their
// Lua scripts from ./lua).
const ASSET_DIRS = ['stock/lua', 'waiting-room/lua'];

if (!fs.existsSync(path.join(root, 'src', 'generated', 'prisma', 'client.ts'))) {
  console.error('build: src/generated/prisma is missing; run `npx prisma generate` (npm install runs it)');
  process.exit(1);
}

fs.rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

for (const dir of ASSET_DIRS) {
  fs.cpSync(path.join(root, 'src', dir), path.join(dist, dir), { recursive: true });
}
console.log(`build: dist/ ready (${ASSET_DIRS.join(', ')} copied)`);
