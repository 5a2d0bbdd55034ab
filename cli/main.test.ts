/** Unit tests (no broker) of the CLI's own answers: `help <command>`, `--version` and usage errors of them. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaNames } from '../schemas/generated/types';
import { runMain as run } from '../test/support/cli-main';
import { commands } from './main';

describe('listflow help <command> prints what <command> --help prints', () => {
  test.each(commands.map((c) => [c.path.join(' ')]))('%s', async (path) => {
    const words = path.split(' ');
    const viaHelp = await run(['help', ...words]);
    const viaFlag = await run([...words, '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaFlag.code).toBe(0);
    expect(viaHelp.stdout).toMatch(new RegExp(`^Usage: listflow ${path}`));
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  test('help alone lists every command, like --help', async () => {
    const r = await run(['help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe((await run(['--help'])).stdout);
    for (const c of commands) expect(r.stdout).toContain(`  ${c.path.join(' ')} `);
  });

  test.each([
    [['help', 'nope'], /unknown command "nope"/],
    [['help', 'infra', 'sideways'], /unknown command "infra sideways"[.]\nDid you mean one of: infra up/],
    [['nope', '--help'], /unknown command "nope"/],
  ])('%j: usage error, exit 2', async (argv, msg) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(msg);
  });
});

describe('listflow --version', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
  const kafkajs = JSON.parse(readFileSync(require.resolve('kafkajs/package.json'), 'utf8')) as { version: string };

  test.each([['--version'], ['-V'], ['version']])('%s: version, pipeline, schemas, Kafka client', async (flag) => {
    const r = await run([flag]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`listflow ${pkg.version}`);
    expect(r.stdout).toMatch(/^pipeline +listings \(built-in\)$/m);
    expect(r.stdout).toMatch(new RegExp(`^kafka client +kafkajs ${kafkajs.version.replace(/\./g, '\\.')}$`, 'm'));
    for (const n of schemaNames) expect(r.stdout).toMatch(new RegExp(`\\b${n} [0-9a-f]{12}\\b`));
  });

  test('--json: the same facts, parseable; fingerprints distinct per schema and stable', async () => {
    const r = await run(['--version', '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v.version).toBe(pkg.version);
    expect(v.pipeline).toEqual({ name: 'listings', from: 'built-in' });
    expect(v.kafkaClient).toEqual({ name: 'kafkajs', version: kafkajs.version });
    expect(Object.keys(v.schemas)).toEqual([...schemaNames]);
    expect(new Set(Object.values(v.schemas)).size).toBe(schemaNames.length);
    expect((await run(['--version', '--json'])).stdout).toBe(r.stdout);
  });

  test('answers even when the settings do not parse, naming what is wrong instead of the pipeline', async () => {
    process.env.LISTFLOW_NO_SUCH_SETTING = '1';
    try {
      const r = await run(['--version']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^pipeline +\? \(.*LISTFLOW_NO_SUCH_SETTING.*\) \(built-in\)$/m);
      expect(r.stdout).toMatch(/^kafka client +kafkajs /m);
    } finally {
      delete process.env.LISTFLOW_NO_SUCH_SETTING;
    }
  });
});
