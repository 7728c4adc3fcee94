import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { Client } from 'pg';
import { PrismaClient } from '../../src/generated/prisma/client';
import { startEmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { applyMigrations } from '../../src/infra/migrations';

// Real PostgreSQL on 127.0.0.1:5432 (trust auth) and the real Prisma CLI through the offline schema engine.
const SERVER = 'postgresql://postgres@127.0.0.1:5432';
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PRISMA_CLI = path.join(REPO_ROOT, 'node_modules', '.bin', 'prisma');
const TABLES = [
  '_prisma_migrations',
  'items',
  'orders',
  'outbox_messages',
  'processed_messages',
  'stock_segments',
];

async function onServer<T>(database: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: `${SERVER}/${database}` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const res = await onServer('postgres', (c) =>
    c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]),
  );
  return res.rowCount === 1;
}

function runPrisma(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PRISMA_CLI, args, { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The `db:check` command, against a given schema file and a shadow database of this test's own. */
function driftCheck(schemaPath: string, shadowDb: string) {
  return runPrisma(
    ['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', schemaPath, '--exit-code'],
    { SHADOW_DATABASE_URL: `${SERVER}/${shadowDb}` },
  );
}

describe('applyMigrations on PostgreSQL', () => {
  const dbName = `seckill_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

  afterAll(async () => {
    await onServer('postgres', (c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`));
  });

  it('creates the missing database and every table', async () => {
    expect(await databaseExists(dbName)).toBe(false);

    const started = Date.now();
    await applyMigrations(`${SERVER}/${dbName}`);
    const elapsedMs = Date.now() - started;

    expect(await databaseExists(dbName)).toBe(true);
    const res = await onServer(dbName, (c) =>
      c.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      ),
    );
    expect(res.rows.map((r) => r.table_name)).toEqual(TABLES);
    const applied = await onServer(dbName, (c) =>
      c.query('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL'),
    );
    expect(applied.rowCount).toBeGreaterThanOrEqual(1);
    expect(elapsedMs).toBeLessThan(30_000);
  });

  it('is a no-op the second time', async () => {
    await expect(applyMigrations(`${SERVER}/${dbName}`)).resolves.toBeUndefined();
  });

  it('rejects with the CLI error when the server is unreachable', async () => {
    await expect(applyMigrations('postgresql://postgres@127.0.0.1:1/nothing')).rejects.toThrow(/P1001|reach/);
  });
});

describe('drift check (prisma migrate diff --exit-code)', () => {
  const shadowDb = `seckill_shadow_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let tmpDir: string;

  beforeAll(async () => {
    tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'seckill-drift-'));
  });

  afterAll(async () => {
    await fs.rm(tmpDir, { recursive: true, force: true });
  });

  it('passes on the repository schema', async () => {
    const { code, output } = await driftCheck('prisma/schema.prisma', shadowDb);
    expect(output).toContain('No difference detected');
    expect(code).toBe(0);
  });

  it('fails on a schema with a field no migration creates', async () => {
    const schema = await fs.readFile(path.join(REPO_ROOT, 'prisma', 'schema.prisma'), 'utf8');
    const drifted = schema.replace(/(model Item \{\n)/, '$1  driftProbe Int?\n');
    expect(drifted).not.toBe(schema);
    const schemaPath = path.join(tmpDir, 'schema.prisma');
    await fs.writeFile(schemaPath, drifted);

    const { code, output } = await driftCheck(schemaPath, shadowDb);
    expect(code).toBe(2);
    expect(output).toMatch(/Added column `driftProbe`/);
  });

  it('leaves no shadow database behind', async () => {
    expect(await databaseExists(shadowDb)).toBe(false);
  });
});

describe('embedded PostgreSQL (PGlite)', () => {
  it('takes the migrations and serves Prisma over several connections', async () => {
    const pg = await startEmbeddedPostgres();
    try {
      expect(pg.url).toMatch(/^postgresql:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
      await applyMigrations(pg.url);

      const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: pg.url, max: 4 }) });
      try {
        const names = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];
        // Concurrent interactive transactions: PGlite serialises them, they must all still commit.
        const created = await Promise.all(
          names.map((name, i) =>
            prisma.$transaction(async (tx) => {
              const item = await tx.item.create({
                data: {
                  name,
                  initialStock: 10 + i,
                  stock: 10 + i,
                  segments: 2,
                  paymentTimeoutMs: 60_000,
                },
              });
              return tx.item.update({ where: { id: item.id }, data: { stock: { decrement: 1 } } });
            }),
          ),
        );
        expect(new Set(created.map((item) => item.id)).size).toBe(names.length);

        const items = await prisma.item.findMany({ orderBy: { id: 'asc' } });
        expect(items.map((item) => item.name).sort()).toEqual([...names].sort());
        const beta = items.find((item) => item.name === 'beta');
        expect(beta).toMatchObject({ initialStock: 11, stock: 10, strategy: 'segmented-lock' });
        expect(typeof beta?.id).toBe('bigint');
      } finally {
        await prisma.$disconnect();
      }
    } finally {
      await pg.stop();
    }
  });
});
