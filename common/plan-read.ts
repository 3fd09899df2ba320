/**
 * Reading `hotgen.yaml`: the user-editable settings (`hotgen init` merges them with its
 * flags) and the whole plan with its computed `crates:` list (what `hotgen dev`, `env`,
 * `doctor` and `ci` run from), every value checked by its rule (plan-rules.ts) and every
 * error one line naming the file and line. Writing it is the generator's
 * (generator/plan-file.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { UserError } from './errors.js';
import { YAML } from './deps-config.js';
import { displayPath } from './fsx.js';
import type { AppSettings, Channel, HotPlan, Linker, PlannedCrate, Role } from './types.js';
import { PLAN_FILE, TOOLCHAIN_FILE } from './layout.js';
import {
  checkChannel,
  checkLibName,
  checkLinker,
  checkPackageName,
  checkProfileName,
  checkRelativePath,
  checkStopTimeout,
  parseListenAddress,
  PLAN_VERSION,
  shown,
  shownValue,
  STOP_TIMEOUT_MS,
  type Where,
} from './plan-rules.js';
import { pinnedToolchain } from './toolchain.js';

/** The user-editable settings (hotgen.yaml keys above `crates:`). */
export interface PlanSettings {
  /** Entry package name; undefined = pick automatically. */
  entry?: string;
  frozen: string[];
  exclude: string[];
  listen: string[];
  linker: Linker;
  channel: Channel;
  toolchain: string;
  profile: string;
  /** ms */
  stopTimeoutMs: number;
}

type Obj = Record<string, unknown>;

/** The top-level keys of hotgen.yaml (`toolchain` is retired: read from older plans, never written). */
const TOP_KEYS = ['version', 'entry', 'frozen', 'exclude', 'listen', 'linker', 'channel', 'profile', 'stop_timeout_ms', 'app', 'crates', 'toolchain'];
/** The keys of `app:`. */
const APP_KEYS = ['args', 'env', 'cwd'];
/** A portable environment variable name (POSIX.1-2017, 8.1: letters, digits, underscore; no leading digit). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The keys of one `crates:` entry. */
const CRATE_KEYS = ['name', 'role', 'lib', 'deps', 'src'];

/** A parsed hotgen.yaml: its plain data plus the 1-based line of any key or item in it. */
interface YamlFile {
  /** Where errors point: the file as shown to the user. */
  file: string;
  data: Obj;
  /** Line of the key `path[-1]` (a string) or the item `path[-1]` (a number) under `path[..-1]`. */
  line(path: (string | number)[]): number | undefined;
  /** The keys of the mapping at `path` with their lines. */
  keys(path: (string | number)[]): { key: string; line?: number }[];
}

function parseYaml(text: string, file: string): YamlFile {
  const lc = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lc });
  const err = doc.errors[0];
  if (err) throw new UserError(`invalid YAML: ${err.message.split('\n')[0]}`, { file, line: err.linePos?.[0]?.line });
  let v: unknown;
  try {
    v = doc.toJS();
  } catch (e) {
    throw new UserError(`invalid YAML: ${(e as Error).message.split('\n')[0]}`, { file, cause: e });
  }
  if (v !== null && v !== undefined && (typeof v !== 'object' || Array.isArray(v))) throw new UserError('expected a mapping at the top level', { file, line: 1 });
  const lineAt = (node: unknown) => {
    const r = (node as { range?: [number, number, number] } | null)?.range;
    return r ? lc.linePos(r[0]).line : undefined;
  };
  const nodeAt = (path: (string | number)[]): unknown => (path.length ? doc.getIn(path, true) : doc.contents);
  const pairs = (path: (string | number)[]) => {
    const n = nodeAt(path);
    return YAML.isMap(n) ? n.items : [];
  };
  return {
    file,
    data: (v ?? {}) as Obj,
    line(path) {
      const last = path.at(-1);
      if (typeof last === 'number') return lineAt(nodeAt(path));
      const pair = pairs(path.slice(0, -1)).find((p) => String(YAML.isScalar(p.key) ? p.key.value : p.key) === last);
      return lineAt(pair?.key);
    },
    keys(path) {
      return pairs(path).map((p) => ({ key: String(YAML.isScalar(p.key) ? p.key.value : p.key), line: lineAt(p.key) }));
    },
  };
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key nearest to `key`, when it is close enough to be a typo. */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(key.length / 3))) ? best : undefined;
}

/** One warning per unknown key of the mapping at `path`: `file:line: unknown key ...`. */
function unknownKeys(y: YamlFile, path: (string | number)[], known: readonly string[]): string[] {
  const suggest = known.filter((k) => k !== 'toolchain');
  return y.keys(path).filter(({ key }) => !known.includes(key)).map(({ key, line }) => {
    const near = nearestKey(key, suggest);
    const why = near ? `(did you mean \`${near}\`?)` : `(known keys: ${suggest.join(', ')})`;
    return `${y.file}${line ? `:${line}` : ''}: unknown key ${shown(key)} ${why}`;
  });
}

const at = (y: YamlFile, path: (string | number)[]): Where => ({ file: y.file, line: y.line(path) });

function strList(y: YamlFile, path: (string | number)[], v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new UserError(`\`${path.join('.')}\` must be a list of strings, not ${shownValue(v)}`, at(y, path));
}

function str(y: YamlFile, key: string): string | undefined {
  const v = y.data[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  throw new UserError(`\`${key}\` must be a string, not ${shownValue(v)}`, at(y, [key]));
}

/** Settings read from hotgen.yaml, and warnings to print (unknown keys), each `file:line: text`. */
export interface SettingsRead {
  settings: Partial<PlanSettings>;
  warnings: string[];
}

function settingsOf(y: YamlFile): SettingsRead {
  const o = y.data;
  if (o.version !== undefined && o.version !== null) {
    const v = o.version;
    if (typeof v === 'number' && Number.isInteger(v) && v > PLAN_VERSION) {
      throw new UserError(`version ${v} is newer than this hotgen understands (${PLAN_VERSION}); upgrade hotgen to read this file`, at(y, ['version']));
    }
    if (v !== PLAN_VERSION) throw new UserError(`\`version\` must be ${PLAN_VERSION}, not ${shownValue(v)}`, at(y, ['version']));
  }
  const out: Partial<PlanSettings> = {};
  const entry = str(y, 'entry');
  if (entry !== undefined) out.entry = checkPackageName(entry, '`entry`', at(y, ['entry']));
  for (const key of ['frozen', 'exclude'] as const) {
    const list = strList(y, [key], o[key]);
    if (list) out[key] = list.map((n, i) => checkPackageName(n, `\`${key}\``, at(y, [key, i])));
  }
  const listen = strList(y, ['listen'], o.listen);
  if (listen) {
    listen.forEach((a, i) => parseListenAddress(a, at(y, ['listen', i])));
    out.listen = listen;
  }
  if (str(y, 'linker') !== undefined) out.linker = checkLinker(o.linker, at(y, ['linker']));
  if (str(y, 'channel') !== undefined) out.channel = checkChannel(o.channel, at(y, ['channel']));
  // Older plans kept the pin here; it now lives in TOOLCHAIN_FILE (readPin).
  const toolchain = str(y, 'toolchain');
  if (toolchain !== undefined) out.toolchain = toolchain;
  const profile = str(y, 'profile');
  if (profile !== undefined) out.profile = checkProfileName(profile, at(y, ['profile']));
  if (o.stop_timeout_ms !== undefined && o.stop_timeout_ms !== null) out.stopTimeoutMs = checkStopTimeout(o.stop_timeout_ms, at(y, ['stop_timeout_ms']));
  return { settings: out, warnings: unknownKeys(y, [], TOP_KEYS) };
}

/**
 * The user-editable settings in hotgen.yaml text (absent keys left out), each checked
 * by its rule (common/plan-rules.ts), and one warning per unknown key, naming its line
 * and the nearest known key (`hotgen.yaml:7: unknown key \`stop_timout_ms\` (did you mean
 * \`stop_timeout_ms\`?)`). `crates:` is not checked here: `init` recomputes it.
 * @param file the file's path; messages show it relative to the current directory when inside it.
 * @throws UserError naming the file and line for invalid YAML, a `version` other than 1
 *   (a newer one: upgrade hotgen), a key of the wrong type or a value its rule refuses.
 */
export function parseSettings(text: string, file: string): SettingsRead {
  return settingsOf(parseYaml(text, displayPath(file)));
}

/**
 * {@link parseSettings} without the warnings.
 * @throws UserError as parseSettings.
 */
export function readSettings(text: string, file: string): Partial<PlanSettings> {
  return parseSettings(text, file).settings;
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

/** The plan read from hotgen.yaml, with the warnings to print (unknown keys), each `file:line: text`. */
export interface PlanRead {
  plan: HotPlan;
  warnings: string[];
}

/** One `crates:` entry, checked: names by Cargo's rules, `src` paths inside the workspace. */
function crateOf(y: YamlFile, c: unknown, i: number): PlannedCrate {
  const where = (key?: string): Where => ({ file: y.file, line: (key && y.line(['crates', i, key])) || y.line(['crates', i]) });
  if (!c || typeof c !== 'object' || Array.isArray(c)) throw new UserError(`\`crates\` entry ${i + 1} must be a mapping, not ${shownValue(c)}`, where());
  const o = c as Obj;
  const name = checkPackageName(o.name, `crates entry ${i + 1}: \`name\``, where('name'));
  const what = `crates entry ${i + 1} (${shown(name)})`;
  if (!ROLES.includes(o.role as Role)) throw new UserError(`${what}: \`role\` must be one of ${ROLES.join(', ')}, not ${shownValue(o.role)}`, where('role'));
  const lib = o.lib === undefined || o.lib === null ? undefined : checkLibName(o.lib, `${what}: \`lib\``, where('lib'));
  const deps = (strList(y, ['crates', i, 'deps'], o.deps) ?? []).map((d) => checkPackageName(d, `${what}: \`deps\``, where('deps')));
  const src = (strList(y, ['crates', i, 'src'], o.src) ?? []).map((p) => checkRelativePath(p, `${what}: \`src\``, where('src')));
  return { name, role: o.role as Role, ...(lib ? { lib } : {}), deps, src };
}

/** The `app:` mapping: arguments, extra environment and working directory of the app (all optional). */
function appOf(y: YamlFile): AppSettings {
  const o = y.data.app;
  if (o === undefined || o === null) return { args: [], env: {}, cwd: '.' };
  if (typeof o !== 'object' || Array.isArray(o)) throw new UserError(`\`app\` must be a mapping (args, env, cwd), not ${shownValue(o)}`, at(y, ['app']));
  const a = o as Obj;
  const args = strList(y, ['app', 'args'], a.args) ?? [];
  const env: Record<string, string> = {};
  if (a.env !== undefined && a.env !== null) {
    if (typeof a.env !== 'object' || Array.isArray(a.env)) throw new UserError(`\`app.env\` must be a mapping of names to strings, not ${shownValue(a.env)}`, at(y, ['app', 'env']));
    for (const [k, v] of Object.entries(a.env as Obj)) {
      if (!ENV_NAME.test(k)) throw new UserError(`\`app.env\`: ${shown(k)} is not an environment variable name (letters, digits and _, not starting with a digit)`, at(y, ['app', 'env', k]));
      if (typeof v !== 'string' || v.includes('\0')) throw new UserError(`\`app.env.${k}\` must be a string without NUL, not ${shownValue(v)}`, at(y, ['app', 'env', k]));
      env[k] = v;
    }
  }
  const cwd = a.cwd === undefined || a.cwd === null || a.cwd === '' || a.cwd === '.' ? '.' : checkRelativePath(a.cwd, '`app.cwd`', at(y, ['app', 'cwd']));
  return { args, env, cwd };
}

/**
 * Reads the plan the loader runs from `<root>/hotgen.yaml`, every value checked (the
 * settings as {@link parseSettings} does; each `crates:` entry's names by Cargo's rules,
 * its role, and its `src` paths relative and inside the workspace), plus the warnings
 * for unknown keys (top level and in `crates:` entries).
 * @throws UserError naming the file (and line) when it is missing (run `hotgen init`),
 *   is not valid YAML, has a newer `version`, lacks a field the loader needs, or holds a
 *   value of the wrong type or one its rule refuses; never an InternalError.
 */
export async function readPlanFile(root: string): Promise<PlanRead> {
  const abs = path.join(root, PLAN_FILE);
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`no ${PLAN_FILE} in ${root}`, { hint: 'Run `hotgen init` first.' });
    throw new UserError(`cannot read it: ${(err as Error).message}`, { file: displayPath(abs), cause: err });
  }
  const file = displayPath(abs);
  const y = parseYaml(text, file);
  const { settings: s, warnings } = settingsOf(y);
  const o = y.data;
  s.toolchain = (await readPin(root)) ?? s.toolchain;
  const bad = (what: string, key?: string) => new UserError(`${what} (run \`hotgen init\` to regenerate it)`, key ? at(y, [key]) : { file });
  if (o.version === undefined || o.version === null) throw bad('missing `version` (expected 1)');
  if (!s.entry || !s.profile || !s.linker || !s.channel) throw bad('missing one of entry, profile, linker, channel');
  if (!s.toolchain) throw new UserError(`no toolchain pin in ${TOOLCHAIN_FILE} (run \`hotgen init\` to write it)`, { file: path.join(root, TOOLCHAIN_FILE) });
  if (o.crates === undefined || o.crates === null) throw bad('missing `crates:` list');
  if (!Array.isArray(o.crates)) throw bad(`\`crates\` must be a list, not ${shownValue(o.crates)}`, 'crates');
  const crates = (o.crates as unknown[]).map((c, i) => crateOf(y, c, i));
  const seen = new Set<string>();
  crates.forEach((c, i) => {
    if (seen.has(c.name)) throw new UserError(`crates entry ${i + 1}: ${shown(c.name)} is listed twice (run \`hotgen init\` to regenerate it)`, at(y, ['crates', i]));
    seen.add(c.name);
    warnings.push(...unknownKeys(y, ['crates', i], CRATE_KEYS));
  });
  if (!crates.some((c) => c.role === 'entry' && c.name === s.entry)) throw bad(`entry ${shown(s.entry)} is not in \`crates:\` with role entry`, 'entry');
  const plan: HotPlan = {
    version: PLAN_VERSION,
    profile: s.profile,
    channel: s.channel,
    toolchain: s.toolchain,
    linker: s.linker,
    entry: s.entry,
    listen: s.listen ?? [],
    stopTimeoutMs: s.stopTimeoutMs ?? STOP_TIMEOUT_MS.default,
    ...(o.app !== undefined && o.app !== null ? { app: appOf(y) } : {}),
    crates,
  };
  warnings.push(...unknownKeys(y, ['app'], APP_KEYS));
  return { plan, warnings };
}

/**
 * {@link readPlanFile} without the warnings (for callers that print none).
 * @throws UserError as readPlanFile.
 */
export async function readPlan(root: string): Promise<HotPlan> {
  return (await readPlanFile(root)).plan;
}
