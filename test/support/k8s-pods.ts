/**
 * Rendered Kubernetes workloads as local processes: what a kubelet would start for a container, as far as a
 * machine without a container runtime can. The image's ENTRYPOINT and ENV come from the Dockerfile (tini is
 * dropped, `node` is this Node, WORKDIR is the checkout with its dist/); the container's env is built like the
 * kubelet builds it (image ENV < envFrom ConfigMaps < env, Secrets resolved from a test set, a missing
 * non-optional key fails like CreateContainerConfigError); every volume is a directory under the pod's own
 * folder (ConfigMap and Secret keys as files, emptyDir, one shared folder per PersistentVolumeClaim) and any env
 * value under a mount path is remapped to it. Each pod has its own network namespace in a cluster; here the
 * container ports are moved to free local ports (the health port setting follows).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { K8sObject } from '../../k8s/render';
import { childOutput } from './child-output';

const ROOT = join(__dirname, '..', '..');

/** Secret name -> key -> value: what the cluster's Secrets would hold. */
export type SecretSet = Readonly<Record<string, Readonly<Record<string, string>>>>;

export type Workload = K8sObject & { spec: { template: { spec: IPodSpec } } };

export interface ImageConfig {
  /** The ENTRYPOINT after tini, with `node` replaced by this process's Node. */
  readonly entrypoint: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * The image as the Dockerfile builds it. ENV is kept except LD_PRELOAD (jemalloc is an image dependency, not
 * this machine's). Throws when the ENTRYPOINT is not `tini -- node dist/cli/main.js`: this mapping would be wrong.
 */
export function imageFromDockerfile(dockerfile = join(ROOT, 'Dockerfile')): ImageConfig {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\n\s*/g, ' ');
  const stages = text.split(/^FROM /m);
  const last = stages[stages.length - 1]!;
  const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(last);
  if (!entry) throw new Error('Dockerfile: no ENTRYPOINT in the runtime stage');
  const argv = JSON.parse(entry[1]!) as string[];
  const expected = ['/usr/bin/tini', '--', 'node', 'dist/cli/main.js'];
  if (JSON.stringify(argv) !== JSON.stringify(expected))
    throw new Error(
      `Dockerfile ENTRYPOINT is ${JSON.stringify(argv)}; test/support/k8s-pods.ts maps ${JSON.stringify(expected)}`,
    );
  const env: Record<string, string> = {};
  for (const line of last.matchAll(/^ENV\s+(.+)$/gm)) {
    for (const pair of line[1]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) env[pair[1]!] = pair[2]!;
  }
  delete env.LD_PRELOAD;
  return { entrypoint: [process.execPath, join(ROOT, 'dist', 'cli', 'main.js')], env };
}

/** A port free now; the kubelet's equivalent is the pod's own network namespace. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface LocalContainer {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env: Record<string, string>;
  /** Container port name -> the local port it moved to. */
  readonly ports: Readonly<Record<string, number>>;
  /** Mount path -> local directory. */
  readonly mounts: Readonly<Record<string, string>>;
}

export interface PodOptions {
  readonly objects: readonly K8sObject[];
  readonly secrets: SecretSet;
  readonly image: ImageConfig;
  /** The pod's folder (its volumes live under it). */
  readonly dir: string;
  /** Folder of the PersistentVolumeClaims, shared by the pods of one rendering. */
  readonly claimsDir: string;
}

const configMap = (objects: readonly K8sObject[], name: string) => {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name) as
    | (K8sObject & { data?: Record<string, string> })
    | undefined;
  if (!cm) throw new Error(`ConfigMap ${name} is not in the rendering`);
  return cm.data ?? {};
};

/** Materializes every volume of the pod; returns volume name -> local directory. */
function materializeVolumes(pod: IPodSpec, o: PodOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of pod.volumes ?? []) {
    const dir = v.persistentVolumeClaim
      ? join(o.claimsDir, v.persistentVolumeClaim.claimName)
      : join(o.dir, 'volumes', v.name);
    mkdirSync(dir, { recursive: true });
    if (v.configMap) {
      for (const [k, value] of Object.entries(configMap(o.objects, v.configMap.name!)))
        writeFileSync(join(dir, k), value);
    } else if (v.secret) {
      const secret = o.secrets[v.secret.secretName!];
      if (!secret && !v.secret.optional) throw new Error(`volume ${v.name}: Secret ${v.secret.secretName} is missing`);
      for (const [k, value] of Object.entries(secret ?? {})) writeFileSync(join(dir, k), value);
    } else if (!v.emptyDir && !v.persistentVolumeClaim) {
      throw new Error(`volume ${v.name}: only configMap, secret, emptyDir and persistentVolumeClaim are mapped`);
    }
    out[v.name] = dir;
  }
  return out;
}

/** The container's environment as the kubelet builds it; a missing non-optional Secret key throws. */
function containerEnv(c: IContainer, o: PodOptions): Record<string, string> {
  const env: Record<string, string> = { ...o.image.env };
  for (const from of c.envFrom ?? []) {
    if (!from.configMapRef) throw new Error(`${c.name}: only envFrom configMapRef is mapped`);
    Object.assign(env, configMap(o.objects, from.configMapRef.name!));
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const value = configMap(o.objects, ref.name!)[ref.key];
      if (value !== undefined) env[e.name] = value;
      else if (!ref.optional)
        throw new Error(
          `${c.name}: ${e.name} needs key ${ref.key} of ConfigMap ${ref.name} (CreateContainerConfigError)`,
        );
    } else if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const value = o.secrets[ref.name!]?.[ref.key];
      if (value !== undefined) env[e.name] = value;
      else if (!ref.optional)
        throw new Error(`${c.name}: ${e.name} needs key ${ref.key} of Secret ${ref.name} (CreateContainerConfigError)`);
    } else throw new Error(`${c.name}: env ${e.name} has a source that is not mapped`);
  }
  return env;
}

/** Every container of a workload's pod (init containers first, in order), ready to run here. */
export async function localContainers(w: Workload, o: PodOptions): Promise<LocalContainer[]> {
  const pod = w.spec.template.spec;
  const volumes = materializeVolumes(pod, o);
  const out: LocalContainer[] = [];
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    if (c.command) throw new Error(`${c.name}: a command overrides the image's ENTRYPOINT; only args are mapped`);
    const mounts: Record<string, string> = {};
    for (const m of c.volumeMounts ?? []) {
      const dir = volumes[m.name];
      if (!dir) throw new Error(`${c.name}: mount of unknown volume ${m.name}`);
      mounts[m.mountPath] = dir;
    }
    const env = containerEnv(c, o);
    // Longest mount path first, so /a/b wins over /a.
    const paths = Object.keys(mounts).sort((a, b) => b.length - a.length);
    for (const [k, v] of Object.entries(env)) {
      const p = paths.find((m) => v === m || v.startsWith(`${m}/`));
      if (p) env[k] = mounts[p]! + v.slice(p.length);
    }
    const ports: Record<string, number> = {};
    for (const p of c.ports ?? []) {
      const local = await freePort();
      ports[p.name ?? String(p.containerPort)] = local;
      for (const [k, v] of Object.entries(env))
        if (v === String(p.containerPort) && /_PORT$/.test(k)) env[k] = String(local);
    }
    out.push({ name: c.name, argv: [...o.image.entrypoint, ...(c.args ?? [])], env, ports, mounts });
  }
  return out;
}

export interface Finished {
  readonly code: number | null;
  readonly output: string;
}

const spawnEnv = (c: LocalContainer, extra: Record<string, string>) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  ...c.env,
  ...extra,
});

/** Runs a container to completion (an init container, a Job's container, a `--check`). */
export function runToEnd(
  c: LocalContainer,
  opts: { args?: readonly string[]; env?: Record<string, string>; timeoutMs?: number } = {},
): Finished {
  const [cmd, ...args] = c.argv;
  const r = spawnSync(cmd!, [...args, ...(opts.args ?? [])], {
    cwd: ROOT,
    env: spawnEnv(c, opts.env ?? {}),
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 120_000,
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}${r.error ? `\n${r.error.message}` : ''}` };
}

export interface Running {
  readonly container: LocalContainer;
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts a long-running container (a Deployment's worker). */
export function start(c: LocalContainer, env: Record<string, string> = {}): Running {
  const [cmd, ...args] = c.argv;
  const child = spawn(cmd!, args, { cwd: ROOT, env: spawnEnv(c, env), stdio: ['ignore', 'pipe', 'pipe'] });
  return { container: c, child, ...childOutput(child) };
}
