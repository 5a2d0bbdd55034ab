/**
 * What each step's pods need beyond what every worker gets, read from its operator's `deploy` declaration
 * (runtime/operator.ts DeployNeeds) in the one operator registry: the manifests name no operator.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { operators } from '../operators';
import { fieldEnvName } from '../runtime/config';
import type { DeclaredMount, DeployNeeds } from '../runtime/operator';
import type { StepSpec } from '../runtime/pipeline';
import { operatorEnvPrefix } from '../runtime/settings';

type Needs = DeployNeeds<Record<string, never>> & {
  readonly blobStore?: { readonly store: string; readonly root: string };
  readonly database?: { readonly url: string };
  readonly feeds?: { readonly root: string };
  readonly assignments?: Omit<NonNullable<DeployNeeds<Record<string, never>>['assignments']>, 'file'> & {
    readonly file: string;
  };
};

/** The deploy needs of `operator` (none when it declares none or is not in the registry). */
export const needsOfOperator = (operator: string): Needs => (operators[operator]?.deploy ?? {}) as Needs;

export const needsOf = (step: Pick<StepSpec, 'operator'>): Needs => needsOfOperator(step.operator);

/**
 * True for a step whose operator owns standing assignments (`own`) instead of consuming jobs: it never commits
 * offsets, so its group's lag is every record and says nothing about load (no lag-based autoscaling).
 */
export const isOwning = (step: Pick<StepSpec, 'operator'>): boolean => operators[step.operator]?.own !== undefined;

/** An owning step's assignments file as a render ships it. */
export interface ShippedAssignments {
  /** The shipped file's path and its text (copied into the base, mounted from a ConfigMap). */
  readonly path: string;
  readonly text: string;
  /** The file name the pods see it under. */
  readonly name: string;
  /** The variable the apply command reads the file's path from (the operator's setting). */
  readonly fileEnv: string;
  /** The declared keys: at most this many replicas own anything. */
  readonly keys: readonly string[];
  /** The variables the declarations read secrets from: the keys of the step's Secret. */
  readonly secretEnv: readonly string[];
  /** The folders the declarations read (a file feed's), mounted read-only in the step's pods. */
  readonly mounts: readonly DeclaredMount[];
  /** Settings of other operators the declarations' readers use (LISTFLOW_INGEST_*), passed to the step's pods. */
  readonly settingEnv: readonly string[];
  /** CLI arguments that apply the file to the step's input. */
  readonly apply: readonly string[];
}

const shippedCache = new Map<string, ShippedAssignments | undefined>();

/** The shipped assignments of an owning step's operator (undefined when it declares none), read once. */
export function shippedAssignments(step: Pick<StepSpec, 'operator'>): ShippedAssignments | undefined {
  if (shippedCache.has(step.operator)) return shippedCache.get(step.operator);
  const a = needsOf(step).assignments;
  const out = a ? assignmentsOfFile(step, a.shipped()) : undefined;
  shippedCache.set(step.operator, out);
  return out;
}

/** An owning step's assignments as a render would ship them from `path` (the shipped file, or a test's). */
export function assignmentsOfFile(step: Pick<StepSpec, 'operator'>, path: string): ShippedAssignments {
  const a = needsOf(step).assignments;
  if (!a) throw new Error(`operator ${step.operator} declares no deploy.assignments`);
  const { keys, secretEnv, mounts = [], settingsOf = [] } = a.declared(path);
  return {
    mounts,
    settingEnv: settingsOf.flatMap(borrowedSettingEnv),
    path,
    text: readFileSync(path, 'utf8'),
    name: basename(path),
    fileEnv: settingEnv(step.operator, a.file),
    keys,
    secretEnv,
    apply: a.apply,
  };
}

/**
 * The variables of `operator`'s settings that another operator's reader uses with them (the sources step reads
 * snapshot feeds with ingest's reader): every setting but its feeds root, which that reader sets to each feed's
 * own folder.
 */
function borrowedSettingEnv(operator: string): string[] {
  const fields = operators[operator]?.config.fields;
  if (!fields) throw new Error(`deploy.assignments names the settings of ${operator}, which is not an operator`);
  const root = needsOfOperator(operator).feeds?.root;
  return Object.keys(fields)
    .filter((f) => f !== root)
    .map((f) => settingEnv(operator, f));
}

/** The variable an operator's setting is read from (its own `env`, else LISTFLOW_<OPERATOR>_<SETTING>). */
export function settingEnv(operator: string, setting: string): string {
  return fieldEnvName(operatorEnvPrefix(operator), setting, operators[operator]?.config.fields[setting]);
}

const declaring = (need: keyof Needs): string[] =>
  Object.values(operators)
    .filter((o) => needsOfOperator(o.name)[need] !== undefined)
    .map((o) => o.name);

/** Operators whose pods get the database Secret (required there: no pod starts without it). */
export const DATABASE_OPERATORS: ReadonlySet<string> = new Set(declaring('database'));

/** The variables of the file roots of the operators that read file:// feeds (`listflow ingest` warns outside them). */
export const FEED_ROOT_ENVS: readonly string[] = declaring('feeds').map((op) =>
  settingEnv(op, needsOfOperator(op).feeds!.root),
);

/** Operators that write the blob store: the blob-store components patch their Deployments. */
export const BLOB_STORE_OPERATORS: ReadonlySet<string> = new Set(declaring('blobStore'));

/** The variables of the blob-store settings (the store, then the filesystem root) of the operators that write one. */
export const BLOB_STORE_ENVS: readonly string[] = [...BLOB_STORE_OPERATORS].flatMap((op) => {
  const { store, root } = needsOfOperator(op).blobStore!;
  return [settingEnv(op, store), settingEnv(op, root)];
});

/**
 * The database URL's variable: the one name every reader of the database uses (the CLI's listings commands,
 * the platform's environment). Every operator that declares the database must read it from the same variable.
 */
export const POSTGRES_URL_ENV: string = (() => {
  const names = new Set([...DATABASE_OPERATORS].map((op) => settingEnv(op, needsOfOperator(op).database!.url)));
  if (names.size !== 1) {
    throw new Error(
      `Expected one database URL variable among the operators that declare deploy.database but found ${names.size} (${[...names].join(', ') || 'none'}).`,
    );
  }
  return [...names][0]!;
})();
