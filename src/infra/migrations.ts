import { spawn } from 'node:child_process';
import path from 'node:path';

/** Repository root: this file is src/infra/migrations.ts (tsx, jest) or dist/infra/migrations.js (compiled). */
const REPO_ROOT = path.resolve(__dirname, '..', '..');
const PRISMA_CLI = path.join(REPO_ROOT, 'node_modules', '.bin', 'prisma');

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stdout: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

/**
 * Applies prisma/migrations to `databaseUrl` with `prisma migrate deploy`, creating the database if it is
 * missing (the CLI checks first, so an existing database, or PGlite's single one, is left alone).
 * The CLI, not a hand-rolled migrator, so that the _prisma_migrations bookkeeping is exactly Prisma's;
 * prisma.config.ts points it at the offline schema engine. Rejects with the CLI's stderr.
 */
export function applyMigrations(databaseUrl: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PRISMA_CLI, ['migrate', 'deploy'], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const detail = stderr.trim() || stdout.trim() || `exit code ${code}`;
      reject(new MigrationError(`prisma migrate deploy failed: ${detail}`, code, stdout));
    });
  });
}
