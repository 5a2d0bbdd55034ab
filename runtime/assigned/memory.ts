/**
 * An owner's context over in-memory topics, for broker-free tests of an owning operator (a source's poller):
 * commits land atomically in per-port logs and latest-value maps, `lastCommitted` and `committed` read those,
 * and `failNextCommit` makes a commit fail as a fenced or broken transaction would (nothing of it lands).
 */
import type { Clock, Logger, OutputEmit, OutputPorts, OwnerContext } from '../operator';

export interface MemoryOwner<Cfg, Svc, P extends OutputPorts> {
  readonly ctx: OwnerContext<Cfg, Svc, P>;
  /** Every committed emit per port, in order. */
  readonly log: Map<string, OutputEmit[]>;
  /** The latest committed value per port and key (a tombstone removes it). */
  readonly latest: Map<string, Map<string, unknown>>;
  readonly gauges: Map<string, number>;
  /** Commits so far (transactions that landed). */
  commits(): number;
  failNextCommit(error: Error): void;
  stop(): void;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

export function memoryOwner<Cfg, Svc, P extends OutputPorts>(o: {
  readonly key: string;
  readonly config: Cfg;
  readonly services: Svc;
  readonly clock?: Clock;
  readonly logger?: Logger;
}): MemoryOwner<Cfg, Svc, P> {
  const abort = new AbortController();
  const log = new Map<string, OutputEmit[]>();
  const latest = new Map<string, Map<string, unknown>>();
  const gauges = new Map<string, number>();
  let commits = 0;
  let failure: Error | undefined;
  const ctx: OwnerContext<Cfg, Svc, P> = {
    config: o.config,
    services: o.services,
    logger: o.logger ?? silent,
    clock: o.clock ?? { now: () => new Date() },
    key: o.key,
    signal: abort.signal,
    transactions: async () => ({
      async commit(emits) {
        if (failure) {
          const e = failure;
          failure = undefined;
          throw e;
        }
        for (const e of emits) {
          log.set(e.port, [...(log.get(e.port) ?? []), e]);
          const values = latest.get(e.port) ?? new Map<string, unknown>();
          if (e.value === null) values.delete(e.key);
          else values.set(e.key, e.value);
          latest.set(e.port, values);
        }
        commits++;
      },
    }),
    lastCommitted: async (port) => latest.get(port)?.get(o.key) as never,
    committed: async (port, keyPrefix) =>
      new Map([...(latest.get(port) ?? new Map<string, unknown>())].filter(([k]) => k.startsWith(keyPrefix))) as never,
    gauges: { set: (name, value) => void gauges.set(name, value) },
  };
  return {
    ctx,
    log,
    latest,
    gauges,
    commits: () => commits,
    failNextCommit: (e) => {
      failure = e;
    },
    stop: () => abort.abort(new Error('stopped')),
  };
}
