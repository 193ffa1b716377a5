import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * Checking deploy/kubernetes without a cluster: render it with kustomize (kubectl's own),
 * validate every object against the Kubernetes schemas, and work out the environment a
 * pod of the StatefulSet gets, the way the kubelet does.
 */

/** A Kubernetes object as rendered: only what these checks read is typed. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly labels?: Record<string, string> };
  readonly spec: Record<string, unknown>;
}

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
  };
}

/** True when kubectl is installed; under CI=true its absence is an error (CI installs it). */
export function hasKubectl(): boolean {
  const found = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;
  if (!found && process.env.CI === 'true') throw new Error('kubectl is missing: CI must install it (apt-get install kubernetes-client)');
  return found;
}

/** `kubectl kustomize <dir>`: the objects the directory stands for. */
export function kustomize(dir: string): KubeObject[] {
  const text = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${document.errors.map((e) => e.message).join('; ')}`);
    return document.toJS() as KubeObject;
  });
}

/** The kubernetes-models module and type of each kind the manifests use. */
const MODELS: Record<string, { module: string; type: string }> = {
  'v1/Service': { module: 'kubernetes-models/v1/Service', type: 'IService' },
  'apps/v1/StatefulSet': { module: 'kubernetes-models/apps/v1/StatefulSet', type: 'IStatefulSet' },
  'policy/v1/PodDisruptionBudget': { module: 'kubernetes-models/policy/v1/PodDisruptionBudget', type: 'IPodDisruptionBudget' },
};

/**
 * Validates each object twice, both from the Kubernetes OpenAPI schemas as the
 * kubernetes-models package carries them: against the JSON schema (types, required
 * fields, formats), and, for fields that do not exist (the schemas allow them, the API
 * server drops or refuses them), by type-checking the objects as literals of the package's
 * TypeScript types. Returns the problems, none when valid.
 */
export function validate(objects: readonly KubeObject[]): string[] {
  const problems: string[] = [];
  const lines: string[] = [];
  objects.forEach((object, i) => {
    const name = `${object.kind} ${object.metadata.name}`;
    const model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (model === undefined) {
      problems.push(`${name}: no schema known for ${object.apiVersion} ${object.kind}`);
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- one module per kind, picked at run time
    const Model = (require(model.module) as Record<string, new (data: unknown) => { validate(): void }>)[object.kind];
    try {
      new (Model as new (data: unknown) => { validate(): void })(object).validate();
    } catch (error) {
      problems.push(`${name}: ${(error as Error).message}`);
    }
    lines.push(`import type { ${model.type} as T${i} } from '${model.module}';`, `export const o${i}: T${i} = ${JSON.stringify(object, null, 2)};`);
  });
  // Written beside this package's node_modules, so that the types resolve.
  const dir = fs.mkdtempSync(path.join(path.dirname(require.resolve('@meshkv/tests/package.json')), '.kube-check-'));
  try {
    fs.writeFileSync(path.join(dir, 'objects.ts'), `${lines.join('\n')}\n`);
    const options = { noEmit: true, strict: true, skipLibCheck: true, module: 'commonjs', target: 'es2022', types: [] };
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['objects.ts'] }));
    const tsc = require.resolve('typescript/bin/tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    if (result.status !== 0) problems.push(`not of the Kubernetes types:\n${result.stdout}${result.stderr}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

/** What the cluster fills in for a pod: its name and namespace, and the secrets it reads. */
export interface PodContext {
  readonly name: string;
  readonly namespace: string;
  readonly secrets: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * The environment a container of a pod starts with, as the kubelet makes it: `fieldRef`s
 * of the pod's name and namespace, `secretKeyRef`s from the secrets given, and `$(NAME)`
 * in a value replaced by an earlier variable of the list (left as it is when there is
 * none; `$$` is a `$`). Anything else the list asks for is an error.
 */
export function podEnv(env: readonly EnvVar[], pod: PodContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const variable of env) {
    const from = variable.valueFrom;
    if (from?.fieldRef !== undefined) {
      const fields: Record<string, string> = { 'metadata.name': pod.name, 'metadata.namespace': pod.namespace };
      const value = fields[from.fieldRef.fieldPath];
      if (value === undefined) throw new Error(`${variable.name}: fieldRef ${from.fieldRef.fieldPath} is not rendered here`);
      out[variable.name] = value;
    } else if (from?.secretKeyRef !== undefined) {
      const value = pod.secrets[from.secretKeyRef.name]?.[from.secretKeyRef.key];
      if (value === undefined) throw new Error(`${variable.name}: no key ${from.secretKeyRef.key} in secret ${from.secretKeyRef.name}`);
      out[variable.name] = value;
    } else if (from !== undefined) {
      throw new Error(`${variable.name}: valueFrom ${Object.keys(from).join()} is not rendered here`);
    } else {
      out[variable.name] = expand(variable.value ?? '', out);
    }
  }
  return out;
}

/** Kubernetes' `$(NAME)` expansion of a value with the variables defined before it. */
export function expand(value: string, defined: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const char = value[i] as string;
    if (char !== '$' || i + 1 >= value.length) {
      out += char;
      continue;
    }
    const next = value[i + 1];
    if (next === '$') {
      out += '$';
      i++;
      continue;
    }
    const close = next === '(' ? value.indexOf(')', i + 2) : -1;
    if (close === -1) {
      out += char;
      continue;
    }
    const name = value.slice(i + 2, close);
    out += Object.hasOwn(defined, name) ? defined[name] : `$(${name})`;
    i = close;
  }
  return out;
}

/** A folder for a pod's volume, removed with `remove`. */
export function tempVolume(name: string): { path: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meshkv-${name}-`));
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
