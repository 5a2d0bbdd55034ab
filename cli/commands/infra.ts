/** `listflow infra up|down|status`: the local platform (see infra/). */
import { platformEndpoints, platformLayout } from '../../infra/layout';
import { down, type ServiceName, serviceNames, status, up } from '../../infra/platform';
import { type Command, printJson, UsageError } from '../command';

function parseOnly(positionals: readonly string[]): ServiceName[] {
  if (positionals.length === 0) return [...serviceNames];
  for (const p of positionals) {
    if (!(serviceNames as readonly string[]).includes(p)) {
      throw new UsageError(`Unknown service ${JSON.stringify(p)}; expected one of ${serviceNames.join(', ')}.`);
    }
  }
  return positionals as ServiceName[];
}

export const infraCommands: Command[] = [
  {
    path: ['infra', 'up'],
    summary:
      'Start the local Kafka (KRaft), Apicurio Registry, PostgreSQL and S3Proxy (S3 API for photos), and wait until each answers.',
    args: '[kafka|registry|postgres|s3proxy...]',
    details:
      'Downloads are cached under .listflow/cache (and ~/.m2), so only the first run fetches anything.\nRunning it again reuses what is already running. Set LISTFLOW_HOME to move the folder.',
    async run(args, io) {
      const l = platformLayout();
      const started = Date.now();
      const result = await up(l, (m) => io.err(`infra: ${m}`), parseOnly(args.positionals));
      if (io.json) {
        printJson(io, { services: result, env: platformEndpoints(l), ms: Date.now() - started });
        return 0;
      }
      for (const s of result) {
        io.out(
          `${s.name.padEnd(9)} ${s.action === 'reused' ? 'already running' : 'started'}  pid ${s.pid}  ${s.endpoint}  (ready in ${((s.readyMs ?? 0) / 1000).toFixed(1)}s)`,
        );
      }
      io.out(`\nlocal platform up in ${((Date.now() - started) / 1000).toFixed(1)}s; logs in ${l.logs}`);
      return 0;
    },
  },
  {
    path: ['infra', 'down'],
    summary: 'Stop the processes `infra up` started (by recorded pid) and leave nothing running.',
    maxPositionals: 0,
    async run(_args, io) {
      const l = platformLayout();
      const result = await down(l, (m) => (io.json ? undefined : io.out(m)));
      if (io.json) printJson(io, { services: result });
      return 0;
    },
  },
  {
    path: ['infra', 'status'],
    summary: 'Show whether each local service runs and answers. Exit code 1 if any is not running.',
    maxPositionals: 0,
    async run(_args, io) {
      const l = platformLayout();
      const result = await status(l);
      if (io.json) printJson(io, { services: result, env: platformEndpoints(l) });
      else {
        for (const s of result) {
          const extra = 'compatibility' in s && s.compatibility ? `  compatibility ${s.compatibility}` : '';
          io.out(
            `${s.name.padEnd(9)} ${s.state.padEnd(12)} ${s.pid === null ? '' : `pid ${s.pid}  `}${s.endpoint}${extra}`,
          );
        }
      }
      return result.every((s) => s.state === 'running') ? 0 : 1;
    },
  },
];
