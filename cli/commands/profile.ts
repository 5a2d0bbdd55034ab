/**
 * `listflow profile check FEED --profile NAME`: runs a feed through a source profile with no broker (the
 * ingest operator reads it, normalize's rules map it) and lists every lookup value the profile does not map
 * and every field it does not know, with counts and an example key, plus the lines to add to the profile.
 * This is how a new MLS is onboarded: run, paste, map, run again until nothing is listed.
 *
 * Also the `--profile` option of `listflow ingest`, checked here against the profiles there are.
 */
import { type CheckReport, toolOf } from '../../operators/tools';
import type { FeedFormat, IngestJob, RawListing } from '../../schemas/generated/types';
import { type Command, intOption, type ParsedArgs, printJson, stringOption, UsageError } from '../command';
import { FORMAT_HELP, formatOption } from '../feed-options';
import { feedUri } from './ingest';
import { jobOptions } from './ingest-options';

// From the registry (operators/tools.ts): the operator that reads feeds and the one that applies profiles.
const profiles = toolOf('sourceProfiles');
const feeds = toolOf('feedReader');

/** Records of a source's first pages checked by default: a few pages of any server. */
const FIRST_PAGES_LIMIT = 1000;

/** --profile, checked against the built-in profiles and LISTFLOW_NORMALIZE_PROFILES_DIR; null when not given. */
export function profileOption(args: ParsedArgs, env: NodeJS.ProcessEnv = process.env): string | null {
  const name = stringOption(args, 'profile');
  return name === undefined ? null : knownProfile(name, '--profile', env);
}

/** `name` when it is a profile there is; else a UsageError naming `what` asked for it (an option, a source). */
export function knownProfile(name: string, what: string, env: NodeJS.ProcessEnv = process.env): string {
  const known = profiles.names(env);
  if (!known.includes(name)) {
    throw new UsageError(
      `Expected one of ${known.join(', ')} for ${what} but received ${JSON.stringify(name)}. Add pipelines/profiles/<name>.yaml, or a file in LISTFLOW_NORMALIZE_PROFILES_DIR.`,
    );
  }
  return name;
}

/** Reads the feed as the ingest worker would (its settings from LISTFLOW_INGEST_*, file root = the feed's folder). */
async function readRecords(
  uri: string,
  format: FeedFormat,
  opts: { source: string; profile: string; country: string | null; currency: string | null },
  limit: number,
): Promise<RawListing[]> {
  const job: IngestJob = {
    jobId: 'profile-check',
    source: opts.source,
    uri,
    format,
    submittedAt: new Date(),
    defaultCountry: opts.country,
    defaultCurrency: opts.currency,
    profile: opts.profile,
  };
  const { records, unreadable } = await feeds.read(job, limit, process.env);
  if (unreadable) throw new UsageError(`the feed cannot be read: [${unreadable.code}] ${unreadable.message}`);
  return records;
}

/** The report as text: one line per unmapped value and per unknown field, then the lines to add. */
export function reportLines(r: CheckReport, feed: string): string[] {
  const lines = [
    `Profile ${r.profile} (${r.profileFile}) on ${feed}: ${r.records} records, ${r.normalized} normalized.`,
  ];
  const w = (xs: string[]) => Math.max(0, ...xs.map((x) => x.length)) + 2;
  const times = (n: number) => `${n} record${n === 1 ? '' : 's'}`;
  lines.push('', `Unmapped lookup values (${r.unmapped.length}):`);
  const names = r.unmapped.map((u) => `${u.lookup} ${JSON.stringify(u.value)}`);
  r.unmapped.forEach((u, i) => {
    lines.push(`  ${names[i]!.padEnd(w(names))}${times(u.count).padEnd(12)} e.g. ${u.exampleKey}`);
  });
  lines.push('', `Unknown fields (${r.unknownFields.length}):`);
  const fields = r.unknownFields.map((f) => f.field);
  for (const f of r.unknownFields)
    lines.push(`  ${f.field.padEnd(w(fields))}${times(f.count).padEnd(12)} e.g. ${f.exampleKey}`);
  if (r.otherRejections.length > 0) {
    lines.push('', 'Rejected for other reasons (fix the data, not the profile):');
    for (const o of r.otherRejections) lines.push(`  ${o.code} ${times(o.count)}, e.g. ${o.exampleKey}: ${o.message}`);
  }
  const add = profiles.suggestedLines(r);
  if (add.length > 0) lines.push('', `Add to ${r.profileFile}:`, ...add.map((l) => `  ${l}`));
  return lines;
}

/**
 * The records to check: the feed's, or with no feed, the first pages of the declared reso-web-api source
 * `--source` names, fetched from its server as its first load would (through the guarded client, nothing written).
 */
async function recordsToCheck(
  args: ParsedArgs,
  job: { source: string; profile: string; country: string | null; currency: string | null },
  limit: number,
): Promise<{ records: RawListing[]; checked: string }> {
  const feed = args.positionals[0];
  if (feed !== undefined)
    return { records: await readRecords(feedUri(feed), formatOption(args), job, limit), checked: feed };
  const name = stringOption(args, 'source');
  const tool = toolOf('sourceReplication');
  const file = tool.sourcesFile(process.env);
  const declared = file === undefined ? undefined : tool.load(file).sources.find((s) => s.name === name);
  if (name === undefined || file === undefined || declared === undefined) {
    throw new UsageError(
      `Give a feed, or --source naming a source of ${file ?? 'the sources file (LISTFLOW_SOURCES_FILE)'} to check its first pages${name === undefined ? '' : ` (${JSON.stringify(name)} is not declared there)`}.`,
    );
  }
  const signal = AbortSignal.timeout(120_000);
  const records = await tool.firstRecords(file, name, { env: process.env, limit, signal });
  if (records === undefined) {
    throw new UsageError(
      `Source ${name} is a ${declared.kind} source: check its feed instead (listflow profile check ${declared.resource} --source ${name}).`,
    );
  }
  return { records, checked: `the first pages of ${name} (${declared.resource})` };
}

const check: Command = {
  path: ['profile', 'check'],
  summary:
    "Run a feed, or a source's first pages, through a source profile (no broker): unmapped lookup values and unknown fields.",
  args: '[<feed>]',
  minPositionals: 0,
  maxPositionals: 1,
  options: {
    profile: { type: 'string' },
    source: { type: 'string' },
    format: { type: 'string' },
    limit: { type: 'string' },
  },
  optionHelp: {
    profile: `Source profile (pipelines/profiles/<name>.yaml or LISTFLOW_NORMALIZE_PROFILES_DIR); default ${profiles.defaultProfile}.`,
    source:
      "A source of pipelines/sources.yaml: the feed is checked as that source's records are normalized (its profile, country and currency; --profile overrides).",
    format: FORMAT_HELP,
    limit: `Check only the first N records (default 100000 of a feed, ${FIRST_PAGES_LIMIT} of a source's server).`,
  },
  details:
    'With no feed, --source must name a reso-web-api source of the sources file: its first pages are fetched from\n' +
    'its server as a first load would (its auth, query and limits; LISTFLOW_SOURCES_* settings), nothing written.\n' +
    'Reads the feed as the ingest worker would (LISTFLOW_INGEST_* settings; a local file is allowed from its own\n' +
    'directory), normalizes every record with the profile, and lists what the profile does not map. Exit 1 when\n' +
    'a lookup value is unmapped (normalize would dead-letter those records), 0 otherwise.',
  async run(args, io) {
    // A declared source's records name its profile and carry its defaults (as `ingest --source` does): the
    // check then sees what its worker would, e.g. a Canadian source's CAD and a region-less country check.
    const job =
      stringOption(args, 'source') === undefined
        ? { source: 'profile-check', profile: profileOption(args), country: null, currency: null }
        : jobOptions(args);
    const profile = job.profile ?? profiles.defaultProfile;
    const fromServer = args.positionals[0] === undefined;
    const limit = intOption(args, 'limit', 1, 10_000_000) ?? (fromServer ? FIRST_PAGES_LIMIT : 100_000);
    const { records, checked } = await recordsToCheck(args, { ...job, profile }, limit);
    const report = profiles.check(records, profile, process.env);
    if (io.json) printJson(io, report);
    else for (const l of reportLines(report, checked)) io.out(l);
    return report.unmapped.length > 0 ? 1 : 0;
  },
};

export const profileCommands: Command[] = [check];
