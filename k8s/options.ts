/** Render options of the committed base: the image is `listflow` tagged with the package version. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderOptions } from './render';

export function loadRenderOptions(root: string): RenderOptions {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { imageName: 'listflow', imageTag: pkg.version };
}
