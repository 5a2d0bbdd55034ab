/**
 * A broken platform must stop `listflow infra up` with a message naming what failed and what to do, and never
 * hang. Each case runs the real CLI (dist/cli/main.js, built by the test command) against its own empty
 * LISTFLOW_HOME and free ports, so it cannot disturb the platform the other suites use.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli/main.js');

let home: string;
let fakeBin: string;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'listflow-infra-fail-'));
  fakeBin = join(home, 'bin');
  spawnSync('mkdir', ['-p', fakeBin]);
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((res) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      res({ server, port: (server.address() as { port: number }).port });
    });
  });
}

/** A free port: bind to 0, read it, release it. */
async function freePort(): Promise<number> {
  const { server, port } = await listen();
  await new Promise((r) => server.close(r));
  return port;
}

function fakeTool(name: string, script: string): void {
  const p = join(fakeBin, name);
  writeFileSync(p, `#!/bin/sh\n${script}\n`);
  chmodSync(p, 0o755);
}

async function infraUp(services: string[], env: Record<string, string>) {
  const ports = {
    LISTFLOW_INFRA_KAFKA_PORT: String(await freePort()),
    LISTFLOW_INFRA_KAFKA_CONTROLLER_PORT: String(await freePort()),
    LISTFLOW_INFRA_REGISTRY_PORT: String(await freePort()),
    LISTFLOW_INFRA_POSTGRES_PORT: String(await freePort()),
  };
  return spawnSync(process.execPath, [CLI, 'infra', 'up', ...services], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, LISTFLOW_HOME: home, ...ports, ...env },
  });
}

test('a port taken by another program fails at once, naming the port, the service and the variable to change', async () => {
  const { server, port } = await listen();
  try {
    const r = await infraUp(['postgres'], { LISTFLOW_INFRA_POSTGRES_PORT: String(port) });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Port ${port} (postgres) is already in use by a process this project did not start`);
    expect(r.stderr).toContain('LISTFLOW_INFRA_POSTGRES_PORT=<port>');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace for a user error
    expect(readdirSync(join(home, 'run'))).toEqual([]); // nothing was started or recorded
  } finally {
    server.close();
  }
});

test('Java missing: says Java is needed and how to install it', async () => {
  // PATH holds only the directory of node itself (no java there).
  const r = await infraUp(['kafka'], { PATH: `${fakeBin}:${dirname(process.execPath)}` });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('java was not found on PATH');
  expect(r.stderr).toContain('Install a Java 17+ runtime');
});

test('a failed download names the artifact step, shows Maven output and says what to check', async () => {
  fakeTool('java', 'echo "openjdk version \\"17\\"" >&2; exit 0');
  fakeTool('mvn', 'echo "[ERROR] Could not transfer artifact org.apache.kafka:kafka_2.13 from/to central"; exit 1');
  const r = await infraUp(['kafka'], { PATH: `${fakeBin}:${dirname(process.execPath)}:/usr/bin:/bin` });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/Downloading Kafka [\d.]+ with Maven failed/);
  expect(r.stderr).toContain('Could not transfer artifact org.apache.kafka:kafka_2.13');
  expect(r.stderr).toContain('Maven (mvn) must be installed and reach Maven Central');
});

test('a hung download is stopped with a message instead of hanging', async () => {
  fakeTool('java', 'exit 0');
  fakeTool('mvn', 'sleep 600');
  const r = await infraUp(['kafka'], {
    PATH: `${fakeBin}:${dirname(process.execPath)}:/usr/bin:/bin`,
    LISTFLOW_INFRA_SETUP_TIMEOUT_MS: '2000',
  });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('did not finish within 2s and was stopped');
});
