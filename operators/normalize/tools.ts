/**
 * The source profiles normalize offers the CLI (operators/tools.ts): `profile check` runs records through
 * one, and `ingest --profile` is checked against the names there are. The profiles directory is read as the
 * worker reads it (LISTFLOW_NORMALIZE_PROFILES_DIR, validated: a broken profile fails here too).
 */
import { fromEnv, parseConfig } from '../../runtime/config';
import { operatorEnvPrefix } from '../../runtime/settings';
import type { SourceProfiles } from '../tools';
import { normalizeConfig } from './config';
import { checkProfile, suggestedLines } from './profiles/check';
import { DEFAULT_PROFILE, profileRegistry } from './profiles/registry';

function profilesDir(env: NodeJS.ProcessEnv): string | undefined {
  const prefix = operatorEnvPrefix('normalize');
  return parseConfig(normalizeConfig, fromEnv(normalizeConfig, env, prefix), {
    where: 'normalize config',
    envPrefix: prefix,
  }).profilesDir;
}

export const sourceProfiles: SourceProfiles = {
  defaultProfile: DEFAULT_PROFILE,
  names: (env) => [...profileRegistry(profilesDir(env)).profiles.keys()],
  check(records, profile, env) {
    const dir = profilesDir(env);
    return checkProfile(records, profileRegistry(dir).get(profile), dir);
  },
  suggestedLines,
  // A Profile reads deletions itself (isDeletion, status): the sources file's delete rules are checked with it.
  deletionReaders: (env) => profileRegistry(profilesDir(env)).profiles,
};
