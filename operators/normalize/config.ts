/** normalize's configuration (LISTFLOW_NORMALIZE_* in a worker). */
import { defineConfig, field } from '../../runtime/config';

export const normalizeConfig = defineConfig({
  allowFilePhotoUrls: field.boolean({
    description:
      'Keep file:// photo URLs as well as http(s) ones. Only for local runs on generated sample feeds; the images operator confines file:// to its own root.',
    default: false,
  }),
});
