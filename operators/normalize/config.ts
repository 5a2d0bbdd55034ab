/** normalize's configuration (LISTFLOW_NORMALIZE_* in a worker). */
import { defineConfig, type FieldSpec, field } from '../../runtime/config';
import { profileRegistry } from './profiles/registry';

/**
 * A directory of extra source profiles, loaded and validated when the config is parsed (at startup), so a
 * broken profile stops the worker with every problem listed instead of dead-lettering each record.
 */
function profilesDirField(): FieldSpec<string> {
  const dir = field.string({
    description:
      'Directory of extra source profiles (<name>.yaml, same format as pipelines/profiles), beside the built-in ones. A record names its profile (RawListing.profile); none means reso-dd-2.0.',
    example: '/etc/listflow/profiles',
  });
  return {
    ...dir,
    parse: (raw) => {
      const r = dir.parse(raw);
      if (!r.ok) return r;
      try {
        profileRegistry(r.value);
      } catch (e) {
        return { ok: false, expected: `a directory of valid source profiles (${(e as Error).message})` };
      }
      return r;
    },
  };
}

export const normalizeConfig = defineConfig({
  allowFilePhotoUrls: field.boolean({
    description:
      'Keep file:// photo URLs as well as http(s) ones. Only for local runs on generated sample feeds; the images operator confines file:// to its own root.',
    default: false,
  }),
  profilesDir: field.optional(profilesDirField()),
});
