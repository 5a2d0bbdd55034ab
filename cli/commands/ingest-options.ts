/**
 * What `listflow ingest <uri>` puts in its job besides the feed: the source id, and the profile, country and
 * currency the records are normalized with. A `--source` declared in the sources file (pipelines/sources.yaml)
 * brings that source's profile, country and currency, each overridden by its option; any other name is a
 * plain source id, as before. The sources file is read through the sources operator's `sourceReplication`
 * tool (the CLI names no operator): LISTFLOW_SOURCES_FILE, else the shipped pipelines/sources.yaml.
 */
import { type DeclaredSource, toolOf } from '../../operators/tools';
import { type ParsedArgs, stringOption, UsageError } from '../command';
import { sourceOption } from '../feed-options';
import { knownProfile } from './profile';

export interface JobOptions {
  readonly source: string;
  readonly country: string | null;
  readonly currency: string | null;
  readonly profile: string | null;
}

/** The declared sources, read when `--source` needs them (none when no sources file is shipped). */
export type DeclaredSources = () => { readonly file: string; readonly sources: readonly DeclaredSource[] } | undefined;

export const shippedSources: DeclaredSources = () => {
  const tool = toolOf('sourceReplication');
  const file = tool.sourcesFile(process.env);
  return file === undefined ? undefined : tool.load(file);
};

function oneOf(args: ParsedArgs, name: string, values: readonly string[]): string | undefined {
  const v = stringOption(args, name);
  if (v !== undefined && !values.includes(v)) {
    throw new UsageError(`Expected ${values.join(' or ')} for --${name} but received ${JSON.stringify(v)}.`);
  }
  return v;
}

/** --source (required), --country, --currency and --profile, the declared source's values filling the gaps. */
export function jobOptions(
  args: ParsedArgs,
  declared: DeclaredSources = shippedSources,
  env: NodeJS.ProcessEnv = process.env,
): JobOptions {
  const source = sourceOption(args, 'source');
  if (!source) throw new UsageError('--source is required (the feed or MLS id, e.g. --source crea-ddf).');
  const country = oneOf(args, 'country', ['US', 'CA']);
  const currency = oneOf(args, 'currency', ['USD', 'CAD']);
  const explicitProfile = stringOption(args, 'profile');
  const file = declared();
  const spec = file?.sources.find((s) => s.name === source);
  const profile =
    explicitProfile !== undefined
      ? knownProfile(explicitProfile, '--profile', env)
      : spec?.profile !== undefined
        ? knownProfile(spec.profile, `the profile of source ${source} in ${file!.file}`, env)
        : null;
  return {
    source,
    country: country ?? spec?.country ?? null,
    currency: currency ?? spec?.currency ?? null,
    profile,
  };
}
