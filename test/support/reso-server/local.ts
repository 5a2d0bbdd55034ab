/**
 * The sources of the local run: four sources on one server at 127.0.0.1:18480, one per vendor's quirks,
 * as pipelines/sources.yaml declares them (a unit test keeps the two in step). `npm run local` starts this
 * server and sets LOCAL_RESO_ENV for the sources worker.
 */
import { ResoDataset } from './dataset';
import { PRESETS, type ResoQuirks } from './quirks';
import type { SourceReading } from './replica-check';
import type { ResoSourceDefinition } from './server';

export const LOCAL_RESO_PORT = 18480;

/** The credentials the local sources file names, with the values the local server accepts. */
export const LOCAL_RESO_ENV: Readonly<Record<string, string>> = {
  SOURCE_LOCAL_MLSGRID_CLIENT_ID: PRESETS.mlsgrid.auth.clientId,
  SOURCE_LOCAL_MLSGRID_CLIENT_SECRET: PRESETS.mlsgrid.auth.clientSecret,
  SOURCE_LOCAL_TRESTLE_CLIENT_ID: PRESETS.trestle.auth.clientId,
  SOURCE_LOCAL_TRESTLE_CLIENT_SECRET: PRESETS.trestle.auth.clientSecret,
  SOURCE_LOCAL_SPARK_TOKEN: PRESETS.spark.auth.token,
  SOURCE_LOCAL_PROPTX_TOKEN: PRESETS.proptx.auth.token,
};

const LOCAL: ReadonlyArray<readonly [string, ResoQuirks]> = [
  ['local-mlsgrid', PRESETS.mlsgrid],
  ['local-trestle', PRESETS.trestle],
  ['local-spark', PRESETS.spark],
  ['local-proptx', PRESETS.proptx],
];

/** How pipelines/sources.yaml reads each local source (profile, country, currency): what a replica check needs. */
export const LOCAL_READINGS: readonly SourceReading[] = [
  { name: 'local-mlsgrid', profile: 'mlsgrid', country: 'US', currency: 'USD' },
  { name: 'local-trestle', profile: 'trestle', country: 'US', currency: 'USD' },
  { name: 'local-spark', profile: 'reso-dd-2.0', country: 'US', currency: 'USD' },
  { name: 'local-proptx', profile: 'proptx', country: 'CA', currency: 'CAD' },
];

/**
 * The local sources, `count` listings each, deterministic from `seed`. `run` (the local run's) tags every key
 * and starts the data at `baseMicros`, so runs on one platform never mistake each other's listings.
 */
export function localResoSources(
  seed: number,
  count: number,
  run: { readonly tag?: string; readonly baseMicros?: bigint } = {},
): ResoSourceDefinition[] {
  return LOCAL.map(([name, quirks], i) => ({
    name,
    quirks,
    dataset: new ResoDataset({
      seed: seed + i,
      count,
      tieSize: 7,
      deletes: quirks.deletes,
      photoChangeBumpsModification: quirks.photoChangeBumpsModification,
      originatingSystem: 'listflow',
      keyPrefix: `${name.replace('local-', '').toUpperCase()}-${run.tag ? `${run.tag}-` : ''}`,
      ...(run.baseMicros === undefined ? {} : { baseMicros: run.baseMicros }),
    }),
  }));
}
