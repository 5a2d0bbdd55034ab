/**
 * Writes the pipeline-derived manifests: k8s/base/* and k8s/components/keda/*.
 *
 *   npm run k8s:render            # write
 *   npm run k8s:render -- --check # exit 1 when the committed files differ from the pipeline
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import pipeline from '../pipelines/listings';
import { loadRenderOptions } from './options';
import { renderFiles } from './render';

// argv[1] is this script (k8s/generate.ts, or dist/k8s/generate.js after a build): the root is two levels up,
// and for dist/ the package.json and k8s/ of the checkout are one more level up.
const here = dirname(resolve(process.argv[1]!));
const root = existsSync(join(here, '..', 'package.json')) ? resolve(here, '..') : resolve(here, '..', '..');
const check = process.argv.includes('--check');
const files = renderFiles(pipeline, loadRenderOptions(root));
const stale: string[] = [];
for (const [rel, content] of files) {
  const path = join(root, 'k8s', rel);
  const current = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (current === content) continue;
  if (check) {
    stale.push(`k8s/${rel}`);
    continue;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  process.stdout.write(`wrote k8s/${rel}\n`);
}
if (stale.length > 0) {
  process.stderr.write(`Out of date with the pipeline: ${stale.join(', ')}. Fix: run \`npm run k8s:render\`.\n`);
  process.exit(1);
}
