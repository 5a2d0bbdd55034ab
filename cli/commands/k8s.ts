/**
 * `listflow k8s render`: the Kubernetes manifests derived from the pipeline (k8s/render.ts).
 *
 * Without --overlay it prints the base objects rendered from the pipeline; with --overlay it prints
 * `kubectl kustomize k8s/overlays/<overlay>` (LISTFLOW_KUSTOMIZE overrides the command, e.g.
 * ".tools/bin/kustomize build"). --check compares the committed k8s/ files with the pipeline, as
 * `npm run k8s:render -- --check` does, and exits 1 naming the stale files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadRenderOptions } from '../../k8s/options';
import { renderBase, renderFiles, toYamlDocs } from '../../k8s/render';
import type { PipelineSpec } from '../../runtime/pipeline';
import { type Command, printJson, stringOption, UsageError } from '../command';
import { cliContext } from '../context';

/** The checkout root: the nearest directory above this file holding package.json and k8s/ (also from dist/). */
export function projectRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'k8s', 'overlays'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new UsageError(`cannot find the listflow checkout (package.json and k8s/) above ${from}.`);
    dir = up;
  }
}

/** Committed files under k8s/ that differ from what the pipeline renders, as `k8s/<path>`. */
export function staleFiles(root: string, pipeline: PipelineSpec): string[] {
  const stale: string[] = [];
  for (const [rel, content] of renderFiles(pipeline, loadRenderOptions(root))) {
    const path = join(root, 'k8s', rel);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) stale.push(`k8s/${rel}`);
  }
  return stale;
}

export function overlayNames(root: string): string[] {
  const dir = join(root, 'k8s', 'overlays');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'kustomization.yaml')))
    .map((d) => d.name)
    .sort();
}

function kustomize(root: string, overlay: string): string {
  const [cmd, ...args] = (process.env.LISTFLOW_KUSTOMIZE || 'kubectl kustomize').split(/\s+/);
  try {
    return execFileSync(cmd!, [...args, join(root, 'k8s', 'overlays', overlay)], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new UsageError(
      `\`${[cmd, ...args].join(' ')} k8s/overlays/${overlay}\` failed: ${(err.stderr || err.message).trim()}. Fix: install kubectl (kustomize v4+) or set LISTFLOW_KUSTOMIZE (see scripts/ensure-kubectl.sh).`,
    );
  }
}

export const k8sCommands: Command[] = [
  {
    path: ['k8s', 'render'],
    summary: 'Print the Kubernetes manifests of the pipeline (base, or an overlay); --check finds stale k8s/ files.',
    maxPositionals: 0,
    options: { overlay: { type: 'string' }, check: { type: 'boolean' } },
    optionHelp: {
      overlay: 'Render k8s/overlays/<overlay> (dev, prod) with kustomize instead of the base.',
      check: 'Compare the committed k8s/ files with the pipeline; exit 1 when any is out of date.',
    },
    async run(args, io) {
      const root = projectRoot();
      const overlay = stringOption(args, 'overlay');
      if (overlay !== undefined && !overlayNames(root).includes(overlay)) {
        throw new UsageError(
          `Expected one of ${overlayNames(root).join(', ')} for --overlay but received ${JSON.stringify(overlay)}.`,
        );
      }
      const ctx = cliContext(process.env, 'k8s');
      await ctx.close();
      if (args.values.check) {
        const stale = staleFiles(root, ctx.pipeline);
        // With an overlay, also prove it still builds on top of the committed base.
        if (overlay !== undefined && stale.length === 0) kustomize(root, overlay);
        if (io.json) printJson(io, { ok: stale.length === 0, stale });
        else if (stale.length === 0) io.out('k8s/ is up to date with the pipeline');
        if (stale.length > 0) {
          io.err(
            `listflow k8s render: out of date with the pipeline: ${stale.join(', ')}. Fix: run \`npm run k8s:render\`.`,
          );
          return 1;
        }
        return 0;
      }
      const yaml =
        overlay === undefined
          ? toYamlDocs(renderBase(ctx.pipeline, loadRenderOptions(root)))
          : kustomize(root, overlay);
      if (io.json) printJson(io, { overlay: overlay ?? null, yaml });
      else process.stdout.write(yaml);
      return 0;
    },
  },
];
