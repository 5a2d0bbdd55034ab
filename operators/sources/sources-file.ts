/**
 * The sources file (pipelines/sources.yaml, or LISTFLOW_SOURCES_FILE): where Listflow's data comes from.
 * Validated on load with every problem reported together as one SOURCES_INVALID, each naming the file, the
 * field path (`sources[1].auth.clientSecretEnv`), the value received and a fix, like the pipeline.
 *
 * Secrets are never written in the file: auth names environment variables (`clientSecretEnv`), and
 * `resolveSourceSecrets` reads them when a worker starts. Anything that looks like an inline secret (a
 * `clientSecret` key, a token-shaped value where a variable name belongs, credentials or an access token in a
 * URL) is refused, so a secret cannot reach git by accident.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { ListflowError } from '../../runtime/errors';
import { validateSources } from './source-validation';
import type { SourceSpec, SourcesFile, ValidateOptions } from './source-spec';

export * from './source-spec';
export { validateSources } from './source-validation';

/** Reads and validates a sources file; throws SOURCES_INVALID listing every problem. */
export function loadSourcesFile(file: string, o: ValidateOptions = {}): SourcesFile {
  return { file, sources: readSourcesFile(file, o).sources };
}

/**
 * A sources file as parsed (`entries`, each as written) and validated (`sources`, in the same order); throws
 * SOURCES_INVALID listing every problem.
 */
export function readSourcesFile(file: string, o: ValidateOptions = {}): { entries: unknown[]; sources: SourceSpec[] } {
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ListflowError(
      'SOURCES_INVALID',
      `${file}: the sources file cannot be read as YAML (${(e as Error).message}). Fix: check its path and syntax.`,
    );
  }
  const { sources, problems } = validateSources(doc, o);
  if (problems.length > 0) {
    throw new ListflowError(
      'SOURCES_INVALID',
      `${problems.length} problem(s) in the sources file ${file}:\n${problems.map((p) => `  - ${file}: ${p.message}`).join('\n')}`,
    );
  }
  return { entries: (doc as { sources: unknown[] }).sources, sources };
}

/**
 * The shipped sources file (pipelines/sources.yaml), found from this module as the built-in profiles are:
 * the source tree and dist/ both lead up to the checkout (or image) root. Undefined when none is shipped.
 */
export function shippedSourcesFile(): string | undefined {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'pipelines', 'sources.yaml');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
