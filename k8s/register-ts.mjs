// Lets `node --import ./k8s/register-ts.mjs k8s/generate.ts` run the repo's TypeScript without a build:
// Node strips the types itself, and this hook resolves the extensionless relative imports tsc expects.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

// The sources are written for tsc's CommonJS output, where a module may name its own file (`__filename`, as the
// operator registry does for operator threads); Node runs them here as ES modules, which have no such binding.
const COMMONJS_NAMES = /\b__(filename|dirname)\b/;
const commonJsPrelude =
  "import { fileURLToPath as __toPath } from 'node:url'; import { dirname as __dirOf } from 'node:path'; " +
  'const __filename = __toPath(import.meta.url); const __dirname = __dirOf(__filename);\n';

registerHooks({
  load(url, context, nextLoad) {
    const loaded = nextLoad(url, context);
    if (!url.startsWith('file:') || !/\.ts$/.test(url) || loaded.source == null) return loaded;
    const source = String(loaded.source);
    if (!COMMONJS_NAMES.test(source)) return loaded;
    return { ...loaded, source: commonJsPrelude + source };
  },
  resolve(specifier, context, nextResolve) {
    if ((specifier.startsWith('./') || specifier.startsWith('../')) && !/\.[cm]?[jt]s$|\.json$/.test(specifier)) {
      const base = new URL(specifier, context.parentURL);
      for (const candidate of [`${base.href}.ts`, `${base.href}/index.ts`]) {
        if (existsSync(fileURLToPath(candidate))) return nextResolve(candidate, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
