#!/usr/bin/env node
/*
 * Offline stand-in for Prisma's native `schema-engine` binary.
 *
 * Why: the Prisma CLI downloads its native schema engine from Prisma's servers before generate/migrate/db
 * commands; this machine reaches only the npm registry, so that download fails. The same engine is published
 * on npm as WebAssembly (@prisma/schema-engine-wasm, pinned to the CLI's engine hash 0edf323e); it talks to
 * the database through a driver adapter (@prisma/adapter-pg) instead of its own drivers.
 *
 * What it speaks (the protocol the CLI expects from the binary named by PRISMA_SCHEMA_ENGINE_BINARY):
 *   argv   --datamodels PATH (repeatable), --datasource JSON ({url, shadowDatabaseUrl}), --version,
 *          and one-shot `cli can-connect-to-database | create-database | drop-database`
 *          (exit 0 on success; on failure a JSON log line on stderr with fields.message/fields.error_code;
 *          the CLI ignores the first stderr line).
 *   stdio  JSON-RPC 2.0, one object per line, answered in order. Method names are the WASM SchemaEngine's,
 *          except getDatabaseVersion (`version` there). `diff` output is sent to the CLI as a `print` request
 *          before the result. Errors are {code: 4466, data: {is_panic, message, error_code?, meta?}}.
 *          Logs are JSON lines on stderr.
 *
 * Adapter problems worked around (see fixCatalogColumnTypes and connectToShadowDb):
 *   - the adapter refuses PostgreSQL catalog columns of type "char" and name; we report them as text;
 *   - pg lets a connectionString's database override `database`, so the stock shadow DB connection hits the
 *     main database; we build the shadow URL ourselves;
 *   - the stock shadow DB is dropped while its pool still holds connections; we close the pool first.
 *
 * Depends on Prisma internals: keep prisma, @prisma/adapter-pg and @prisma/schema-engine-wasm pinned together.
 */
/* global WebAssembly -- Node global the lint config does not list for .cjs */
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { URL, pathToFileURL } = require('node:url');
const { randomUUID } = require('node:crypto');
const pg = require('pg');
const { PrismaPg } = require('@prisma/adapter-pg');
const { bindMigrationAwareSqlAdapterFactory } = require('@prisma/driver-adapter-utils');

// The package's `exports` hide package.json, so locate it from the main entry.
const WASM_PACKAGE_DIR = path.dirname(require.resolve('@prisma/schema-engine-wasm'));
const ENGINE_HASH = JSON.parse(fs.readFileSync(path.join(WASM_PACKAGE_DIR, 'package.json'), 'utf8'))
  .version.split('.')
  .pop();
const RPC_ERROR_CODE = 4466;

// ---------------------------------------------------------------------------------------------- logging

/** Log lines in the native engine's tracing format: the CLI reads `level`, `fields` and `target`. */
function log(level, message, extraFields = {}) {
  const line = {
    timestamp: new Date().toISOString(),
    level,
    fields: { message, ...extraFields },
    target: 'schema_engine::logger',
  };
  process.stderr.write(JSON.stringify(line) + '\n');
}

// ---------------------------------------------------------------------------------------------- argv

function parseArgs(argv) {
  const args = { datamodels: [], datasource: null, version: false, cliCommand: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--datamodels') args.datamodels.push(argv[++i]);
    else if (arg === '--datasource') args.datasource = JSON.parse(argv[++i]);
    else if (arg === '--version' || arg === '-V') args.version = true;
    else if (arg === 'cli') args.cliCommand = argv[++i];
    else if (arg === '--enabled-preview-features' || arg === '--extension-types') i++; // not used by postgres
  }
  return args;
}

// ---------------------------------------------------------------------------------------------- database URLs

function databaseName(url) {
  return decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';
}

function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(name);
  return u.toString();
}

function serverLabel(url) {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}`;
}

/** pg ignores Prisma's `?schema=`; the adapter takes it as an option instead. */
function adapterOptions(url) {
  const schema = new URL(url).searchParams.get('schema');
  return schema ? { schema } : undefined;
}

function pgConfig(url) {
  const u = new URL(url);
  u.searchParams.delete('schema');
  return { connectionString: u.toString() };
}

function quoteIdent(name) {
  return '"' + name.replace(/"/g, '""') + '"';
}

// ---------------------------------------------------------------------------------------------- plain pg helpers

/** Runs statements on a short-lived connection (CREATE/DROP DATABASE cannot run inside the adapter's pool). */
async function withClient(url, fn) {
  const client = new pg.Client(pgConfig(url));
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** CREATE DATABASE must be issued from another database on the same server. */
async function withMaintenanceClient(url, fn) {
  try {
    return await withClient(withDatabase(url, 'postgres'), fn);
  } catch (e) {
    if (e.code !== '3D000') throw e;
    return withClient(withDatabase(url, 'template1'), fn);
  }
}

async function createDatabase(url) {
  const name = databaseName(url);
  await withMaintenanceClient(url, async (client) => {
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (e) {
      if (e.code !== '42P04') throw e; // already exists: fine
    }
  });
  return name;
}

async function dropDatabase(url) {
  const name = databaseName(url);
  await withMaintenanceClient(url, (client) =>
    client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`),
  );
}

async function canConnect(url) {
  await withClient(url, (client) => client.query('SELECT 1'));
}

/** Maps a pg/socket error to the Prisma error code the CLI reacts to (P1003 → it offers to create the db). */
function toPrismaError(e, url) {
  if (e.code === '3D000') {
    return {
      error_code: 'P1003',
      message: `Database \`${databaseName(url)}\` does not exist on the database server at \`${serverLabel(url)}\`.`,
    };
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(e.code)) {
    return {
      error_code: 'P1001',
      message: `Can't reach database server at \`${serverLabel(url)}\`\n\nPlease make sure your database server is running at \`${serverLabel(url)}\`.`,
    };
  }
  if (e.code === '28P01' || e.code === '28000') {
    return { error_code: 'P1000', message: `Authentication failed against database server: ${e.message}` };
  }
  return { error_code: undefined, message: String(e && e.message ? e.message : e) };
}

// ---------------------------------------------------------------------------------------------- one-shot `cli` mode

const CLI_COMMANDS = {
  'can-connect-to-database': canConnect,
  'create-database': createDatabase,
  'drop-database': dropDatabase,
};

async function runCliCommand(command, datasource) {
  log('INFO', 'Starting schema engine CLI'); // the CLI drops the first stderr line
  const handler = CLI_COMMANDS[command];
  if (!handler) {
    log('ERROR', `Unknown cli command: ${command}`);
    return 1;
  }
  try {
    await handler(datasource.url);
    return 0;
  } catch (e) {
    const { error_code, message } = toPrismaError(e, datasource.url);
    log('ERROR', message, error_code ? { error_code } : {});
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------- adapter

const CATALOG_TYPE_AS_TEXT = { 18: 25, 19: 25, 1002: 1009, 1003: 1009 }; // "char", name (and arrays) → text
const parseTextArray = pg.types.getTypeParser(1009, 'text');

/**
 * The adapter only knows user-facing types and throws on "char"/name, which the engine's catalog queries
 * return. pg already hands them over as strings, so relabel the columns as text (arrays: parse them too,
 * pg has no parser for name[]/"char"[]). Patched once on the shared prototype so transactions get it too.
 */
function fixCatalogColumnTypes(adapter) {
  const queryable = Object.getPrototypeOf(Object.getPrototypeOf(adapter));
  if (queryable.__catalogTypesFixed) return;
  const performIO = queryable.performIO;
  queryable.performIO = async function (query) {
    const result = await performIO.call(this, query);
    result.fields.forEach((field, i) => {
      const textType = CATALOG_TYPE_AS_TEXT[field.dataTypeID];
      if (textType === undefined) return;
      if (textType === 1009) {
        for (const row of result.rows) if (typeof row[i] === 'string') row[i] = parseTextArray(row[i]);
      }
      field.dataTypeID = textType;
    });
    return result;
  };
  queryable.__catalogTypesFixed = true;
}

async function connectAdapter(url) {
  const adapter = await new PrismaPg(pgConfig(url), adapterOptions(url)).connect();
  fixCatalogColumnTypes(adapter);
  return adapter;
}

/**
 * A fresh shadow database: the configured shadowDatabaseUrl (recreated empty) or a throwaway one next to the
 * main database. Dropped only after the pool is closed, else DROP DATABASE fails on open connections.
 */
async function connectToShadowDb(datasource) {
  const url =
    datasource.shadowDatabaseUrl || withDatabase(datasource.url, `prisma_migrate_shadow_db_${randomUUID()}`);
  await dropDatabase(url);
  await createDatabase(url);
  const adapter = await connectAdapter(url);
  const disposePool = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await disposePool();
    await dropDatabase(url);
  };
  return adapter;
}

function createAdapterFactory(datasource) {
  return bindMigrationAwareSqlAdapterFactory({
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    connect: () => connectAdapter(datasource.url),
    connectToShadowDb: () => connectToShadowDb(datasource),
  });
}

// ---------------------------------------------------------------------------------------------- WASM engine

/** The wasm-bindgen glue reports Rust panics through this global. */
function installPanicRegistry() {
  let lastPanic;
  globalThis.PRISMA_WASM_PANIC_REGISTRY = {
    set_message: (message) => {
      lastPanic = message;
    },
    get: () => lastPanic,
  };
}

/** Instantiates the WASM module by hand: the package's entry imports .wasm as an ES module, which Node can't. */
async function loadSchemaEngineClass() {
  installPanicRegistry();
  // The glue (an ES module) calls `module.require('crypto')` for randomness, as if it were CommonJS.
  if (typeof globalThis.module === 'undefined') globalThis.module = { require };
  const glue = await import(pathToFileURL(path.join(WASM_PACKAGE_DIR, 'schema_engine_bg.js')).href);
  const bytes = fs.readFileSync(path.join(WASM_PACKAGE_DIR, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  return glue.SchemaEngine;
}

function readDatamodels(paths) {
  return paths.map((p) => [p, fs.readFileSync(path.resolve(p), 'utf8')]);
}

/** The engine's log callback receives JSON log lines already; pass them to stderr for the CLI. */
function forwardEngineLog(line) {
  process.stderr.write(String(line).trimEnd() + '\n');
}

async function startEngine(args) {
  const SchemaEngine = await loadSchemaEngineClass();
  const datamodels = readDatamodels(args.datamodels);
  const factory = createAdapterFactory(args.datasource);
  return SchemaEngine.new(
    { datamodels: datamodels.length ? datamodels : undefined },
    forwardEngineLog,
    factory,
  );
}

// ---------------------------------------------------------------------------------------------- JSON-RPC

function send(message) {
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
}

/** Requests we send to the CLI (only `print`), keyed by id, resolved when the CLI answers. */
const pendingOutgoing = new Map();
let nextOutgoingId = 1;

function requestFromCli(method, params) {
  const id = `engine-${nextOutgoingId++}`;
  return new Promise((resolve) => {
    pendingOutgoing.set(id, resolve);
    send({ id, method, params });
  });
}

function toRpcError(e) {
  const panic = globalThis.PRISMA_WASM_PANIC_REGISTRY && globalThis.PRISMA_WASM_PANIC_REGISTRY.get();
  const isPanic = e instanceof WebAssembly.RuntimeError || Boolean(panic);
  const message = isPanic && panic ? panic : String(e && e.message ? e.message : e);
  const data = { is_panic: isPanic, message };
  if (e && e.code) data.error_code = e.code;
  if (e && e.meta) data.meta = e.meta;
  return { code: RPC_ERROR_CODE, message: 'An error happened. Check the data field for details.', data };
}

/** Methods the CLI calls that the WASM object names differently or lacks. */
function makeHandlers(engine, args) {
  return {
    getDatabaseVersion: (params) => engine.version(params),
    createDatabase: async () => ({ databaseName: await createDatabase(args.datasource.url) }),
    diff: async (params) => {
      const result = await engine.diff(params);
      if (result.stdout) await requestFromCli('print', { content: result.stdout });
      return { exitCode: result.exitCode };
    },
  };
}

async function callMethod(engine, handlers, method, params) {
  if (handlers[method]) return handlers[method](params);
  if (typeof engine[method] !== 'function' || method.startsWith('__')) {
    throw new Error(`Unknown schema engine method: ${method}`);
  }
  return engine[method](params);
}

async function serveRpc(args) {
  const enginePromise = startEngine(args);
  enginePromise.catch(() => {}); // reported per request below
  let queue = Promise.resolve();

  const handleRequest = async (request) => {
    try {
      const engine = await enginePromise;
      const result = await callMethod(engine, makeHandlers(engine, args), request.method, request.params);
      send({ id: request.id, result: result === undefined ? null : result });
    } catch (e) {
      send({ id: request.id, error: toRpcError(e) });
    }
  };

  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    if (!line.trim()) return;
    const message = JSON.parse(line);
    if (message.method === undefined && pendingOutgoing.has(message.id)) {
      // A reply to our own request: answer immediately, the queue is waiting on it.
      pendingOutgoing.get(message.id)(message.result);
      pendingOutgoing.delete(message.id);
      return;
    }
    queue = queue.then(() => handleRequest(message));
  });
  await new Promise((resolve) => lines.on('close', resolve));
  await queue;
  // Free the engine so the adapter's pools close; then exit (the glue may keep timers alive).
  const engine = await enginePromise.catch(() => null);
  if (engine) engine.free();
}

// ---------------------------------------------------------------------------------------------- main

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.version) {
    process.stdout.write(`schema-engine-cli ${ENGINE_HASH}\n`);
    return 0;
  }
  if (args.cliCommand) {
    if (!args.datasource) {
      log('ERROR', 'The --datasource argument is required for cli commands');
      return 1;
    }
    return runCliCommand(args.cliCommand, args.datasource);
  }
  await serveRpc(args);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log('ERROR', String(e && e.stack ? e.stack : e));
    process.exit(1);
  },
);
