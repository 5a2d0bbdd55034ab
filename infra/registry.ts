/**
 * Apicurio Registry 3.0 (in-memory storage) with its Confluent-compatible API at /apis/ccompat/v7.
 * Pinned to 3.0.9: the 3.1+ builds need Java 21 and these machines run Java 17.
 * After start, the global compatibility rule is set to BACKWARD; in-memory storage is empty after every
 * restart, so schemas are registered again by `listflow schemas register` (and by workers in local runs).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PlatformLayout } from './layout';
import { mustRun, type ProcessRecord, spawnDetached, waitForService } from './processes';

export const APICURIO_VERSION = '3.0.9';

function paths(l: PlatformLayout) {
  const unpacked = join(l.cache, `apicurio-registry-${APICURIO_VERSION}`);
  return { unpacked, log: join(l.logs, 'registry.log'), dir: join(l.home, 'registry') };
}

export function registryUrl(l: PlatformLayout): string {
  return `http://127.0.0.1:${l.registryPort}/apis/ccompat/v7`;
}

/** Finds the runnable jar in the unpacked distribution (its name differs between 3.x releases). */
function runnerJar(dir: string): string | undefined {
  const walk = (d: string, depth: number): string | undefined => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isFile() && (e.name === 'quarkus-run.jar' || e.name.endsWith('-runner.jar'))) return p;
      if (e.isDirectory() && depth < 3) {
        const found = walk(p, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return existsSync(dir) ? walk(dir, 0) : undefined;
}

export async function ensureApicurio(l: PlatformLayout, say: (msg: string) => void): Promise<string> {
  const p = paths(l);
  const existing = existsSync(join(p.unpacked, '.complete')) ? runnerJar(p.unpacked) : undefined;
  if (existing) return existing;
  say(`fetching Apicurio Registry ${APICURIO_VERSION} from Maven Central (first run only)...`);
  mkdirSync(p.unpacked, { recursive: true });
  const download = join(l.cache, 'downloads');
  mkdirSync(download, { recursive: true });
  await mustRun(`Downloading Apicurio Registry ${APICURIO_VERSION} with Maven`, 'mvn', [
    '-q',
    '-B',
    'dependency:copy',
    `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
    `-DoutputDirectory=${download}`,
  ]).catch((err: Error) => {
    throw new Error(`${err.message}\nMaven (mvn) must be installed and reach Maven Central (repo1.maven.org).`);
  });
  const tarball = join(download, `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  await mustRun('Unpacking Apicurio Registry', 'tar', ['-xzf', tarball, '-C', p.unpacked]);
  const jar = runnerJar(p.unpacked);
  if (!jar) throw new Error(`Apicurio Registry ${APICURIO_VERSION}: no quarkus-run.jar or *-runner.jar in ${tarball}.`);
  writeFileSync(join(p.unpacked, '.complete'), `${new Date().toISOString()}\n`);
  return jar;
}

export async function startRegistry(l: PlatformLayout, say: (msg: string) => void): Promise<ProcessRecord> {
  const p = paths(l);
  const jar = await ensureApicurio(l, say);
  mkdirSync(l.logs, { recursive: true });
  mkdirSync(p.dir, { recursive: true });
  return spawnDetached(l.run, {
    name: 'registry',
    command: 'java',
    args: [
      '-Xms128m',
      '-Xmx512m',
      `-Dlistflow.registry.home=${p.dir}`,
      '-Dquarkus.http.host=127.0.0.1',
      `-Dquarkus.http.port=${l.registryPort}`,
      // Formatting-only differences register as the same schema (same id), as with Confluent.
      '-Dapicurio.ccompat.use-canonical-hash=true',
      '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.apicurio".level=INFO',
      '-jar',
      jar,
    ],
    cwd: p.dir,
    log: p.log,
    marker: `-Dlistflow.registry.home=${p.dir}`,
  });
}

export async function registryAnswers(l: PlatformLayout): Promise<boolean> {
  const res = await fetch(`${registryUrl(l)}/subjects`, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/** The global rule every subject inherits: a new schema must read data written with the previous one. */
export async function setGlobalCompatibility(l: PlatformLayout, level = 'BACKWARD'): Promise<void> {
  const res = await fetch(`${registryUrl(l)}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: level }),
  });
  if (!res.ok)
    throw new Error(`Setting the registry's compatibility to ${level} failed: HTTP ${res.status} ${await res.text()}`);
}

export async function globalCompatibility(l: PlatformLayout): Promise<string | undefined> {
  const res = await fetch(`${registryUrl(l)}/config`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { compatibilityLevel?: string; compatibility?: string };
  return body.compatibilityLevel ?? body.compatibility;
}

export function waitForRegistry(l: PlatformLayout, record: ProcessRecord | undefined): Promise<number> {
  return waitForService(`Apicurio Registry on 127.0.0.1:${l.registryPort}`, () => registryAnswers(l), {
    timeoutMs: 120_000,
    record,
    log: paths(l).log,
  });
}
