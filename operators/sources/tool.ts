/**
 * The `sourceReplication` tool (operators/tools.ts): what `listflow sources apply|list|sync|reset`, `status` and
 * `ingest --source` need of this operator, so the CLI names no operator. Settings come from `env` exactly as
 * the worker parses them (LISTFLOW_SOURCES_*), and `syncOnce` runs the worker's own openSourceSync (poller.ts)
 * with the caller's owner I/O: the same transactional id, the same transaction per page, the same state.
 */
import { fromEnv, parseConfig } from '../../runtime/config';
import { ListflowError } from '../../runtime/errors';
import { operatorEnvPrefix } from '../../runtime/settings';
import type { RawListing } from '../../schemas/generated/types';
import type { DeclaredSource, SourceReplication, SourceStateView } from '../tools';
import { clientSettingsOf, type SourcesConfig, sourcesConfig } from './config';
import { declarationsOf, sourceOfDeclaration } from './declaration';
import { withSeparateMedia } from './media-query';
import { openSourceSync, type PollerContext, sourceHttpClient } from './poller';
import { rawListingsOf } from './raw-listings';
import { remainingRecords, replicatePass } from './replicate';
import { sourceClientFor } from './source-client';
import { replicationSpecs, type SourceSpec, type ValidateOptions } from './source-spec';
import { loadSourcesFile, shippedSourcesFile } from './sources-file';
import { backfillState, mainReplication, type SourceState, sourceStateOf, stateRecordOf } from './state';

function configOf(env: NodeJS.ProcessEnv): SourcesConfig {
  const prefix = operatorEnvPrefix('sources');
  return parseConfig(sourcesConfig, fromEnv(sourcesConfig, env, prefix), {
    where: 'sources config',
    envPrefix: prefix,
  });
}

function declared(s: SourceSpec): DeclaredSource {
  return {
    name: s.name,
    kind: s.kind,
    ...(s.kind === 'reso-web-api' ? { resource: s.resource } : { resource: s.uri }),
    pollIntervalMs: s.pollIntervalMs,
    ...(s.profile === undefined ? {} : { profile: s.profile }),
    ...(s.country === undefined ? {} : { country: s.country }),
    ...(s.currency === undefined ? {} : { currency: s.currency }),
  };
}

function view(s: SourceState): SourceStateView {
  const c = (x: SourceState['cursor']) => (x === undefined ? undefined : { timestamp: x.timestamp, key: x.key });
  const cursor = c(s.cursor);
  const photoCursor = c(s.photoCursor);
  return {
    ...(cursor ? { cursor } : {}),
    ...(photoCursor ? { photoCursor } : {}),
    initialDone: s.initialDone,
    ...(s.snapshot
      ? {
          snapshot: {
            id: s.snapshot.id,
            position: s.snapshot.position,
            total: s.snapshot.total ?? null,
            done: s.snapshot.done,
            takenAt: s.snapshot.takenAt ?? null,
          },
        }
      : {}),
    ...(s.refused ? { refused: { ...s.refused } } : {}),
    lastPoll: s.lastPoll,
    counts: { ...s.counts },
  };
}

const validateOf = (check?: { profiles: ValidateOptions['profiles']; defaultProfile: string }): ValidateOptions =>
  check ? { profiles: check.profiles, defaultProfile: check.defaultProfile } : {};

export const sourceReplication: SourceReplication = {
  sourcesFile: (env) => configOf(env).file ?? shippedSourcesFile(),
  load(file, check) {
    const f = loadSourcesFile(file, validateOf(check));
    return { file: f.file, sources: f.sources.map(declared) };
  },
  declarations: (file, check, now) => declarationsOf(file, validateOf(check), now),
  // Shape only, as the worker checks a declaration: the profiles were checked when it was applied.
  sourceOf: (d) => declared(sourceOfDeclaration(d, {})),
  stateOf: (r) => view(sourceStateOf(r)),
  stateFrom(source, from, current) {
    const s = backfillState(from, current === undefined ? undefined : sourceStateOf(current));
    return s === undefined ? undefined : stateRecordOf(source, s);
  },
  async remaining(d, state, env, signal) {
    const spec = sourceOfDeclaration(d, {});
    if (spec.kind !== 'reso-web-api') return undefined;
    const config = configOf(env);
    const guarded = sourceHttpClient(config);
    try {
      const client = sourceClientFor(spec, guarded, env, clientSettingsOf(config));
      const start = state === undefined ? { initialDone: false } : mainReplication(sourceStateOf(state));
      return await remainingRecords(replicationSpecs(spec).main, client, start, signal);
    } finally {
      await guarded.close();
    }
  },
  async firstRecords(file, name, o) {
    const spec = loadSourcesFile(file).sources.find((s) => s.name === name);
    if (spec === undefined) {
      throw new ListflowError('SOURCES_INVALID', `${file} declares no source ${JSON.stringify(name)}.`, {
        detail: { source: name },
      });
    }
    if (spec.kind !== 'reso-web-api') return undefined;
    const config = configOf(o.env);
    const guarded = sourceHttpClient(config);
    const out: RawListing[] = [];
    try {
      const client = sourceClientFor(spec, guarded, o.env, clientSettingsOf(config));
      const context = { passId: `${name}@first-pages`, receivedAt: new Date() };
      // A first load from no cursor, as the worker starts one; only the first pages are taken.
      const main = replicationSpecs(spec).main;
      for await (const pass of replicatePass(main, client, { initialDone: false }, o.signal)) {
        // With separate Media, the page's photos as the worker attaches them: the profile check sees them too.
        const page = main.separateMedia ? await withSeparateMedia(main.separateMedia, client, pass, o.signal) : pass;
        out.push(...rawListingsOf(spec, page, { ...context, position: out.length }).map((r) => r.value));
        if (out.length >= o.limit || page.caughtUp) break;
      }
    } finally {
      await guarded.close();
    }
    return out.slice(0, o.limit);
  },
  async syncOnce(d, io, o) {
    const config = configOf(o.env);
    const ctx: PollerContext = {
      ...io,
      config,
      services: { env: o.env, validate: {} },
    };
    const s = await openSourceSync(d, ctx, o.allowMassDelete ? { allowMassDelete: true } : {});
    try {
      const previous = await s.readState();
      const started = o.from === undefined ? previous : backfillState(o.from, previous);
      if (o.from !== undefined && started === undefined) {
        throw new TypeError(`--from ${JSON.stringify(o.from)} is not an instant (the CLI checks it first)`);
      }
      const r = await s.sync(started);
      return {
        pages: r.pages,
        records: r.records,
        deletes: r.deletes,
        requests: r.requests,
        started: started === undefined ? undefined : view(started),
        state: view(r.state),
      };
    } finally {
      await s.close();
    }
  },
};
