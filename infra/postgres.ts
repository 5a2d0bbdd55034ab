/**
 * PostgreSQL from Debian's packages, on a project-owned data directory and port (not the system cluster),
 * so `infra down` stops exactly what `infra up` started and tests never meet a stranger's data.
 * Installed with apt-get when missing (as root). Ready means a SQL query answers.
 */
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { PlatformLayout } from './layout';
import { mustRun, type ProcessRecord, waitForService, writeRecord } from './processes';

function paths(l: PlatformLayout) {
  const dir = join(l.home, 'postgres');
  return { dir, data: join(dir, 'data'), sockets: join(dir, 'sockets'), log: join(dir, 'postgres.log') };
}

export function postgresUrl(l: PlatformLayout, database = 'listflow'): string {
  return `postgres://listflow@127.0.0.1:${l.postgresPort}/${database}`;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function findBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

async function ensureBinaries(say: (msg: string) => void): Promise<string> {
  const found = findBinDir();
  if (found) return found;
  if (!isRoot()) {
    throw new Error(
      'PostgreSQL server binaries were not found under /usr/lib/postgresql/*/bin. Install them with `sudo apt-get install -y postgresql` and run `listflow infra up` again.',
    );
  }
  say("installing PostgreSQL from Debian's packages (first run only)...");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await mustRun('apt-get update', 'apt-get', ['update', '-q'], { env });
  await mustRun('Installing PostgreSQL', 'apt-get', ['install', '-y', '-q', '--no-install-recommends', 'postgresql'], {
    env,
  });
  const bin = findBinDir();
  if (!bin) throw new Error('apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb appeared.');
  return bin;
}

/** PostgreSQL refuses to run as root: as root, its commands run as the `postgres` system user. */
async function asOwner(what: string, command: string, args: string[]): Promise<string> {
  return isRoot() ? mustRun(what, 'runuser', ['-u', 'postgres', '--', command, ...args]) : mustRun(what, command, args);
}

function ownerIds(): { uid: number; gid: number } | undefined {
  if (!isRoot()) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('Running as root, but there is no `postgres` system user to run PostgreSQL as.');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPostgres(l: PlatformLayout, say: (msg: string) => void): Promise<ProcessRecord> {
  const bin = await ensureBinaries(say);
  const p = paths(l);
  const owner = ownerIds();
  for (const d of [p.dir, p.sockets]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
    if (owner) chownSync(d, owner.uid, owner.gid);
  }
  if (!existsSync(join(p.data, 'PG_VERSION'))) {
    await asOwner('initdb', join(bin, 'initdb'), [
      '-D',
      p.data,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
  }
  const options = [
    `-p ${l.postgresPort}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${p.sockets}`,
    // A throwaway dev cluster: durability is not the point, speed is.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  await asOwner('Starting PostgreSQL', join(bin, 'pg_ctl'), [
    '-D',
    p.data,
    '-l',
    p.log,
    '-o',
    options,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const pid = Number(readFileSync(join(p.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const record: ProcessRecord = {
    name: 'postgres',
    pid,
    marker: p.data,
    log: p.log,
    startedAt: new Date().toISOString(),
  };
  writeRecord(l.run, record);
  return record;
}

async function query<T>(l: PlatformLayout, user: string, database: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({
    host: '127.0.0.1',
    port: l.postgresPort,
    user,
    database,
    connectionTimeoutMillis: 2000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function postgresAnswers(l: PlatformLayout): Promise<boolean> {
  return query(l, 'postgres', 'postgres', async (c) => (await c.query('SELECT 1 AS ok')).rows[0]?.ok === 1);
}

/** The role and database the pipeline uses; created once, harmless to repeat. */
export async function ensureListflowDatabase(l: PlatformLayout): Promise<void> {
  await query(l, 'postgres', 'postgres', async (c) => {
    const role = await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'listflow'");
    if (role.rowCount === 0) await c.query('CREATE ROLE listflow LOGIN CREATEDB');
    const db = await c.query("SELECT 1 FROM pg_database WHERE datname = 'listflow'");
    if (db.rowCount === 0) await c.query('CREATE DATABASE listflow OWNER listflow');
  });
}

export function waitForPostgres(l: PlatformLayout, record: ProcessRecord | undefined): Promise<number> {
  return waitForService(`PostgreSQL on 127.0.0.1:${l.postgresPort}`, () => postgresAnswers(l), {
    timeoutMs: 60_000,
    record,
    log: paths(l).log,
  });
}
