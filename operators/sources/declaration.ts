/**
 * A source as a record of `listings.sources` (SourceDeclaration): the entry of the sources file as written
 * (secrets named by variable, never included), so the worker validates it with the very rules the file was
 * validated with, and a changed entry (another digest) restarts its poller.
 *
 * `listflow sources apply` writes one per source (declarationsOf); the sources step reads them back
 * (sourceOfDeclaration) for the partitions it owns.
 */
import { createHash } from 'node:crypto';
import { PermanentError } from '../../runtime/errors';
import type { SourceDeclaration } from '../../schemas/generated/types';
import type { SourceSpec, ValidateOptions } from './source-spec';
import { readSourcesFile } from './sources-file';
import { validateSources } from './source-validation';

const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The declarations of a sources file, one per source; SOURCES_INVALID (every problem) when it does not validate. */
export function declarationsOf(file: string, o: ValidateOptions, now: Date): SourceDeclaration[] {
  const { entries, sources } = readSourcesFile(file, o);
  return sources.map((s, i) => {
    const declaration = JSON.stringify(entries[i]);
    return { name: s.name, kind: s.kind, declaration, digest: digestOf(declaration), appliedAt: now };
  });
}

/** The source a declaration record declares, validated again; a PermanentError SOURCES_INVALID names each problem. */
export function sourceOfDeclaration(d: SourceDeclaration, o: ValidateOptions): SourceSpec {
  let entry: unknown;
  try {
    entry = JSON.parse(d.declaration);
  } catch (e) {
    throw new PermanentError(
      'SOURCES_INVALID',
      `The declaration of source ${d.name} in listings.sources is not JSON (${(e as Error).message}). Fix: run \`listflow sources apply\` again.`,
    );
  }
  const { sources, problems } = validateSources({ sources: [entry] }, o);
  const source = sources[0];
  if (problems.length > 0 || !source) {
    throw new PermanentError(
      'SOURCES_INVALID',
      `The declaration of source ${d.name} does not validate here:\n${problems.map((p) => `  - ${p.message}`).join('\n')}\nFix: correct the sources file and run \`listflow sources apply\`.`,
      { detail: { source: d.name } },
    );
  }
  if (source.name !== d.name) {
    throw new PermanentError(
      'SOURCES_INVALID',
      `The declaration keyed ${d.name} declares source ${source.name}. Fix: run \`listflow sources apply\` again.`,
    );
  }
  return source;
}
