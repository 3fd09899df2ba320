/**
 * `hotgen.yaml`: the user-editable settings plus the computed `crates:` list the loader
 * reads. Written through the yaml Document API so the user's comments survive a
 * re-run of `hotgen init`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { exists } from '../common/fsx.js';
import { YAML } from '../common/deps.js';
import type { HotPlan, Linker, PlannedCrate, Role } from '../common/types.js';
import { PLAN_FILE, TOOLCHAIN_FILE } from '../common/layout.js';
import { pinnedToolchain } from './init-policy.js';

export { PLAN_FILE };

/** The user-editable settings (hotgen.yaml keys above `crates:`). */
export interface PlanSettings {
  /** Entry package name; undefined = pick automatically. */
  entry?: string;
  frozen: string[];
  exclude: string[];
  listen: string[];
  linker: Linker;
  channel: 'nightly' | 'stable';
  toolchain: string;
  profile: string;
  /** ms */
  stopTimeoutMs: number;
}

const HEADER = `# hotgen.yaml: the hot-reload plan of this workspace, written by \`hotgen init\`.
# Edit the settings below, then run \`hotgen init\` again to apply them.
version: 1
# The library crate the host runs (its hotgen_run is called through the hotgen_entry.rs shim).
entry: ""
# Crates that are never unloaded (runtimes, registries); linked with -z nodelete.
frozen: []
# Crates never reloaded: when the entry links them, they are loaded once like registry crates.
exclude: []
# Addresses the supervisor listens on and hands to every generation, e.g. 127.0.0.1:8080.
listen: []
# Linker of the hot profile: mold, lld, gold or default.
linker: mold
# nightly or stable: the toolchain of hot builds, pinned in hotgen/rust-toolchain.toml.
channel: nightly
# The Cargo profile that builds the dylibs.
profile: hot
# How long a generation may take to stop before the host is restarted (ms).
stop_timeout_ms: 5000
# Computed by \`hotgen init\` from the workspace and read by \`hotgen dev\`; do not edit.
crates: []
`;

type Obj = Record<string, unknown>;

function parseYaml(text: string, file: string): Obj {
  const doc = YAML.parseDocument(text);
  const err = doc.errors[0];
  if (err) {
    throw new UserError(`invalid YAML: ${err.message.split('\n')[0]}`, { file, line: err.linePos?.[0]?.line });
  }
  const v = doc.toJS() as unknown;
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new UserError('expected a mapping at the top level', { file });
  return v as Obj;
}

const strList = (v: unknown, key: string, file: string): string[] | undefined => {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new UserError(`\`${key}\` must be a list of strings`, { file });
};
const str = (v: unknown, key: string, file: string): string | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  throw new UserError(`\`${key}\` must be a string`, { file });
};

/**
 * The user-editable settings found in hotgen.yaml text (absent keys left out).
 * @throws UserError on invalid YAML or a key of the wrong type.
 */
export function readSettings(text: string, file: string): Partial<PlanSettings> {
  const o = parseYaml(text, file);
  const out: Partial<PlanSettings> = {};
  const set = <K extends keyof PlanSettings>(k: K, v: PlanSettings[K] | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  set('entry', str(o.entry, 'entry', file));
  set('frozen', strList(o.frozen, 'frozen', file));
  set('exclude', strList(o.exclude, 'exclude', file));
  set('listen', strList(o.listen, 'listen', file));
  set('linker', str(o.linker, 'linker', file) as Linker | undefined);
  set('channel', str(o.channel, 'channel', file) as PlanSettings['channel'] | undefined);
  // Older plans kept the pin here; it now lives in TOOLCHAIN_FILE (readPin).
  set('toolchain', str(o.toolchain, 'toolchain', file));
  set('profile', str(o.profile, 'profile', file));
  if (o.stop_timeout_ms !== undefined) {
    if (typeof o.stop_timeout_ms !== 'number' || !(o.stop_timeout_ms > 0)) throw new UserError('`stop_timeout_ms` must be a positive number', { file });
    out.stopTimeoutMs = o.stop_timeout_ms;
  }
  return out;
}

function planObject(plan: HotPlan, s: PlanSettings): Obj {
  return {
    version: 1,
    entry: plan.entry,
    frozen: s.frozen,
    exclude: s.exclude,
    listen: plan.listen,
    linker: plan.linker,
    channel: plan.channel,
    profile: plan.profile,
    stop_timeout_ms: plan.stopTimeoutMs,
    crates: plan.crates.map((c) => ({ name: c.name, role: c.role, ...(c.lib ? { lib: c.lib } : {}), deps: c.deps, src: c.src })),
  };
}

/** Keys an older hotgen wrote that the plan no longer has (the pin moved to TOOLCHAIN_FILE). */
const RETIRED_KEYS = ['toolchain'];

/**
 * The hotgen.yaml text for `plan`: `existing` with changed keys replaced and retired
 * ones (`toolchain:`, now in hotgen/rust-toolchain.toml) removed, comments kept;
 * returned unchanged when its content already matches. Else a new commented file.
 */
export function renderPlanYaml(existing: string | undefined, plan: HotPlan, s: PlanSettings): string {
  const want = planObject(plan, s);
  if (existing !== undefined) {
    const have = (YAML.parse(existing) ?? {}) as Obj;
    const retired = RETIRED_KEYS.some((k) => k in have);
    if (!retired && Object.entries(want).every(([k, v]) => JSON.stringify(have[k]) === JSON.stringify(v))) return existing;
  }
  const doc = YAML.parseDocument(existing ?? HEADER);
  for (const k of RETIRED_KEYS) doc.delete(k);
  for (const [k, v] of Object.entries(want)) {
    const cur = doc.get(k, true) as { toJSON?: () => unknown } | unknown;
    const curJs = cur && typeof cur === 'object' && 'toJSON' in (cur as object) ? (cur as { toJSON: () => unknown }).toJSON() : cur;
    if (JSON.stringify(curJs) === JSON.stringify(v)) continue;
    const node = doc.createNode(v, { flow: Array.isArray(v) && k !== 'crates' });
    if (k === 'crates') {
      for (const item of (node as YAML.YAMLSeq).items as YAML.YAMLMap[]) {
        for (const key of ['deps', 'src']) (item.get(key, true) as unknown as YAML.YAMLSeq).flow = true;
      }
    }
    doc.set(k, node);
  }
  return doc.toString({ lineWidth: 0 });
}

const ROLES: readonly Role[] = ['entry', 'reloadable', 'frozen', 'excluded'];

/**
 * The toolchain pinned in `<root>/hotgen/rust-toolchain.toml` (its `channel`), or
 * undefined when the file is absent or pins nothing.
 */
export async function readPin(root: string): Promise<string | undefined> {
  const text = await fs.readFile(path.join(root, TOOLCHAIN_FILE), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : pinnedToolchain(text);
}

/**
 * Reads the plan the loader runs from `<root>/hotgen.yaml`.
 * @throws UserError when the file is missing (run `hotgen init`), is not valid YAML, or
 *   lacks a field the loader needs.
 */
export async function readPlan(root: string): Promise<HotPlan> {
  const file = path.join(root, PLAN_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`no ${PLAN_FILE} in ${root}`, { hint: 'Run `hotgen init` first.' });
    throw err;
  }
  const o = parseYaml(text, file);
  const s = readSettings(text, file);
  s.toolchain = (await readPin(root)) ?? s.toolchain;
  const bad = (what: string) => new UserError(`${what} (run \`hotgen init\` to regenerate it)`, { file });
  if (o.version !== 1) throw bad('unsupported or missing `version` (expected 1)');
  if (!s.entry || !s.profile || !s.linker || !s.channel) throw bad('missing one of entry, profile, linker, channel');
  if (!s.toolchain) throw new UserError(`no toolchain pin in ${TOOLCHAIN_FILE} (run \`hotgen init\` to write it)`, { file: path.join(root, TOOLCHAIN_FILE) });
  if (!Array.isArray(o.crates)) throw bad('missing `crates:` list');
  const crates: PlannedCrate[] = (o.crates as Obj[]).map((c, i) => {
    if (!c || typeof c.name !== 'string' || !ROLES.includes(c.role as Role)) throw bad(`crates[${i}]: needs a name and a role (${ROLES.join(', ')})`);
    return {
      name: c.name,
      role: c.role as Role,
      ...(typeof c.lib === 'string' ? { lib: c.lib } : {}),
      deps: strList(c.deps, `crates[${i}].deps`, file) ?? [],
      src: strList(c.src, `crates[${i}].src`, file) ?? [],
    };
  });
  if (!crates.some((c) => c.role === 'entry' && c.name === s.entry)) throw bad(`entry \`${s.entry}\` is not in \`crates:\` with role entry`);
  return {
    version: 1,
    profile: s.profile,
    channel: s.channel,
    toolchain: s.toolchain,
    linker: s.linker,
    entry: s.entry,
    listen: s.listen ?? [],
    stopTimeoutMs: s.stopTimeoutMs ?? 5000,
    crates,
  };
}

/**
 * The nearest directory at or above `cwd` holding `hotgen.yaml`, or `cwd` itself when
 * none does (commands then report the missing plan against it).
 */
export async function findPlanRoot(cwd: string): Promise<string> {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    if (await exists(path.join(dir, PLAN_FILE))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(cwd);
  }
}
