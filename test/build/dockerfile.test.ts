// Base images cannot be pulled here, so no image is built: instead the Dockerfile's layers are replayed in an empty
// temporary folder standing in for /app. Each COPY copies exactly what it names from the build context (the
// repository, minus .dockerignore) and each RUN runs there, so a layer that needs a file it did not copy fails as
// it would in `docker build` (the old install layer: `prisma generate` without the schema). The image's CMD then
// starts the compiled service from that folder, devDependencies pruned, and it must become ready.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Client } from 'pg';
import { freshRedisUrl, waitFor } from '../support/stack';

const REPO_ROOT = join(__dirname, '..', '..');
const SERVER_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).trimEnd() + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s+(.*)$/.exec(full);
    if (!match) throw new Error(`unreadable Dockerfile line: ${full}`);
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2] });
  }
  return instructions;
}

/** COPY [--flag…] src… dest (shell form only; the JSON form is not used here, so it is refused loudly). */
export function parseCopy(args: string): { sources: string[]; dest: string } {
  if (args.trim().startsWith('[')) throw new Error(`COPY in JSON form is not replayed: ${args}`);
  const words = args.split(/\s+/).filter((word) => !word.startsWith('--'));
  if (words.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { sources: words.slice(0, -1), dest: words[words.length - 1] };
}

/** .dockerignore as predicates on context-relative paths: `*` within one segment, `**` across; anchored at root. */
export function dockerIgnore(contextDir: string): (relPath: string) => boolean {
  const file = join(contextDir, '.dockerignore');
  const patterns = existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith('#'))
    : [];
  const regexes = patterns.map((pattern) => {
    if (pattern.startsWith('!')) throw new Error(`.dockerignore exceptions are not replayed: ${pattern}`);
    const source = pattern
      .replace(/^\/+|\/+$/g, '')
      .split('**')
      .map((part) =>
        part
          .split('')
          .map((char) =>
            char === '*' ? '[^/]*' : char === '?' ? '[^/]' : char.replace(/[.+^${}()|[\]\\]/, '\\$&'),
          )
          .join(''),
      )
      .join('.*');
    return new RegExp(`^${source}$`);
  });
  // Docker drops a path when it or any folder above it matches.
  return (relPath) => {
    const parts = relPath.split('/');
    return parts.some((_, i) => regexes.some((re) => re.test(parts.slice(0, i + 1).join('/'))));
  };
}

function copyFromContext(contextDir: string, workDir: string, sources: string[], dest: string): void {
  const ignored = dockerIgnore(contextDir);
  const destPath = join(workDir, dest);
  const intoFolder = dest.endsWith('/') || dest === '.' || sources.length > 1;
  for (const source of sources) {
    const from = join(contextDir, source);
    if (!existsSync(from)) throw new Error(`COPY ${source}: not in the build context`);
    if (statSync(from).isDirectory()) {
      // A folder's contents land in dest, as Docker does.
      mkdirSync(destPath, { recursive: true });
      cpSync(from, destPath, {
        recursive: true,
        filter: (path) => {
          const rel = relative(contextDir, path);
          return rel === '' || !ignored(rel.split('\\').join('/'));
        },
      });
    } else {
      if (ignored(source)) throw new Error(`COPY ${source}: excluded by .dockerignore`);
      const to = intoFolder ? join(destPath, source.split('/').pop()!) : destPath;
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to);
    }
  }
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The image's RUN steps run with the image's npm; --prefer-offline only lets this one use the local npm cache. */
function replayable(command: string): string {
  return command.replace(/\bnpm ci\b/g, 'npm ci --prefer-offline');
}

describe('parseDockerfile / parseCopy', () => {
  it('joins continuations, drops comments and reads COPY flags', () => {
    const parsed = parseDockerfile(
      'FROM x\n# note\nRUN a \\\n  # inside\n  && b\nCOPY --chown=node:node a b ./\n',
    );
    expect(parsed).toEqual([
      { keyword: 'FROM', args: 'x' },
      { keyword: 'RUN', args: 'a && b' },
      { keyword: 'COPY', args: '--chown=node:node a b ./' },
    ]);
    expect(parseCopy(parsed[2].args)).toEqual({ sources: ['a', 'b'], dest: './' });
  });
});

describe('dockerIgnore', () => {
  it("reads the repository's .dockerignore with Docker's anchoring", () => {
    const ignored = dockerIgnore(REPO_ROOT);
    expect(
      ['node_modules/x/index.js', 'src/generated/prisma/client.ts', 'dist/main.js', 'debug.log'].filter(
        ignored,
      ),
    ).toHaveLength(4);
    expect(['src/main.ts', 'src/debug.log', 'prisma/schema.prisma', 'package.json'].filter(ignored)).toEqual(
      [],
    );
  });
});

describe('Dockerfile layers replayed in a folder holding only what each copied', () => {
  const instructions = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const workDir = mkdtempSync(join(tmpdir(), 'seckill-image-'));
  const dbName = `seckill_image_${randomBytes(4).toString('hex')}`;
  let server: ChildProcess | undefined;

  afterAll(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((resolve) => server!.once('exit', resolve));
    }
    const admin = new Client({ connectionString: `${SERVER_URL}/postgres` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('has one stage whose install layer is an npm ci after COPY lines', () => {
    expect(instructions.filter((i) => i.keyword === 'FROM')).toHaveLength(1);
    const install = instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(0);
    expect(instructions.slice(0, install).some((i) => i.keyword === 'COPY')).toBe(true);
  });

  it('installs with only the files the COPY lines before `npm ci` name', async () => {
    const install = instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    for (const step of instructions.slice(0, install)) {
      if (step.keyword !== 'COPY') continue;
      const { sources, dest } = parseCopy(step.args);
      copyFromContext(REPO_ROOT, workDir, sources, dest);
    }
    // Nothing but those files: the replay would prove nothing if the source were already there.
    expect(existsSync(join(workDir, 'src'))).toBe(false);
    const result = await run('sh', ['-c', replayable(instructions[install].args)], workDir);
    expect({ code: result.code, tail: result.output.slice(-2000) }).toMatchObject({ code: 0 });
    expect(existsSync(join(workDir, 'src', 'generated', 'prisma', 'client.ts'))).toBe(true);
  }, 300_000);

  it('builds dist/ in the layers after it and drops the devDependencies', async () => {
    const install = instructions.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    for (const step of instructions.slice(install + 1)) {
      if (step.keyword === 'COPY') {
        const { sources, dest } = parseCopy(step.args);
        copyFromContext(REPO_ROOT, workDir, sources, dest);
      } else if (step.keyword === 'RUN') {
        const result = await run('sh', ['-c', replayable(step.args)], workDir);
        expect({ step: step.args, code: result.code, tail: result.output.slice(-2000) }).toMatchObject({
          code: 0,
        });
      }
    }
    expect(existsSync(join(workDir, 'dist', 'main.js'))).toBe(true);
    expect(readdirSync(join(workDir, 'dist', 'stock', 'lua')).sort()).toEqual(
      readdirSync(join(REPO_ROOT, 'src', 'stock', 'lua')).sort(),
    );
    // Pruned: no test tools in the image (typescript itself stays: Prisma lists it as an optional peer).
    expect(existsSync(join(workDir, 'node_modules', 'jest'))).toBe(false);
  }, 300_000);

  it("runs the image's CMD: migrates a missing database and becomes ready", async () => {
    const cmd = instructions.filter((i) => i.keyword === 'CMD').pop();
    expect(cmd).toBeDefined();
    const argv = JSON.parse(cmd!.args) as string[];
    expect(argv.slice(0, 2)).toEqual(['node', 'dist/main.js']);
    expect(existsSync(join(workDir, 'dist', 'main.js'))).toBe(true);

    server = spawn(process.execPath, argv.slice(1), {
      cwd: workDir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        // The image listens on 0.0.0.0 inside its own network namespace; here that would be the machine's.
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: `${SERVER_URL}/${dbName}`,
        REDIS_URL: await freshRedisUrl(15),
        KAFKA_DATA_DIR: join(workDir, '.data', 'kafka'),
        ADMIN_TOKEN: 'image-replay-admin-token',
        LOG_LEVEL: 'info',
        NODE_ENV: 'production',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const url = await waitFor(
      'the compiled service to log its address',
      async () => {
        if (server!.exitCode !== null) throw new Error(`the service exited ${server!.exitCode}: ${output}`);
        return /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
      },
      90_000,
    );
    const ready = await waitFor('/readyz', async () => (await fetch(`${url}/readyz`)).ok, 30_000);
    expect(ready).toBe(true);
    // A purchase exercises the copied Lua scripts and the compiled Prisma client.
    const sale = await fetch(`${url}/admin/sales`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer image-replay-admin-token' },
      body: JSON.stringify({ name: 'image', stock: 2 }),
    });
    expect(sale.status).toBe(201);
    const { itemId } = (await sale.json()) as { itemId: string };
    const order = await fetch(`${url}/seckill`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'image-buyer', itemId }),
    });
    expect(await order.json()).toMatchObject({ status: 'ordered' });

    server.kill('SIGTERM');
    const code = await new Promise((resolve) => server!.once('exit', resolve));
    expect(code).toBe(0);
  }, 180_000);
});
