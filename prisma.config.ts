import path from 'node:path';
import { defineConfig } from 'prisma/config';

// No network route to Prisma's engine downloads: every CLI command uses the offline WASM-backed engine
// (prisma/engine/schema-engine.cjs) unless the caller points PRISMA_SCHEMA_ENGINE_BINARY elsewhere.
// The CLI resolves the engine after loading this file, so setting the variable here is enough.
process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(__dirname, 'prisma', 'engine', 'schema-engine.cjs');

const databaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/seckill';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: {
    url: databaseUrl,
    // migrate dev/diff replay migrations here; the engine recreates it empty each time and drops it after.
    shadowDatabaseUrl:
      process.env.SHADOW_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/seckill_shadow',
  },
});
