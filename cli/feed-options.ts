/**
 * The feed options `ingest`, `dry-run` and `profile check` share: --format (the CLI spelling of a feed format)
 * and source ids (--source, --source-prefix), which prefix every listing id and so are checked before anything runs.
 */
import type { FeedFormat } from '../schemas/generated/types';
import { type ParsedArgs, stringOption, UsageError } from './command';

/** --format's values, in the CLI's spelling (reso-odata) mapped to the job's (reso_odata). */
export const FEED_FORMATS: Readonly<Record<string, FeedFormat>> = {
  auto: 'auto',
  json: 'json',
  ndjson: 'ndjson',
  csv: 'csv',
  'reso-odata': 'reso_odata',
};

export const FORMAT_HELP = 'auto (default), json, ndjson, csv or reso-odata.';

/** --format, `auto` when not given; `formats` names the values a command takes. */
export function formatOption(
  args: ParsedArgs,
  formats: Readonly<Record<string, FeedFormat>> = FEED_FORMATS,
): FeedFormat {
  const name = stringOption(args, 'format') ?? 'auto';
  const format = formats[name];
  if (!format) {
    throw new UsageError(
      `Expected one of ${Object.keys(formats).join(', ')} for --format but received ${JSON.stringify(name)}.`,
    );
  }
  return format;
}

const SOURCE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A source id option (`--source`, `--source-prefix`): letters, digits, '.', '_' or '-'; undefined when not given. */
export function sourceOption(args: ParsedArgs, name: string): string | undefined {
  const source = stringOption(args, name);
  if (source !== undefined && !SOURCE_ID.test(source)) {
    throw new UsageError(
      `Expected letters, digits, '.', '_' or '-' for --${name} but received ${JSON.stringify(source)}.`,
    );
  }
  return source;
}
