/**
 * Writing `hotgen.yaml` (`hotgen init`): the user-editable settings plus the computed
 * `crates:` list, through the yaml Document API so the user's comments survive a re-run
 * of `hotgen init`. Reading it is common/plan-read.ts.
 */
import { YAML } from '../common/deps-config.js';
import { CHANNELS, LINKERS, type HotPlan } from '../common/types.js';
import { DEFAULT_LINKER, orList, PLAN_VERSION, STOP_TIMEOUT_MS } from '../common/plan-rules.js';
import type { PlanSettings } from '../common/plan-read.js';

type Obj = Record<string, unknown>;

const HEADER = `# hotgen.yaml: the hot-reload plan of this workspace, written by \`hotgen init\`.
# Edit the settings below, then run \`hotgen init\` again to apply them.
version: ${PLAN_VERSION}
# The library crate the host runs (its hotgen_run is called through the hotgen_entry.rs shim).
entry: ""
# Crates that are never unloaded (runtimes, registries); linked with -z nodelete.
frozen: []
# Crates never reloaded: when the entry links them, they are loaded once like registry crates.
exclude: []
# Addresses the supervisor listens on and hands to every generation: HOST:PORT or
# [IPV6]:PORT, e.g. 127.0.0.1:8080 (port 0 to 65535; 0 picks a free port).
listen: []
# Linker of the hot profile: ${orList(LINKERS)}.
linker: ${DEFAULT_LINKER}
# ${orList(CHANNELS)}: the toolchain of hot builds, pinned in hotgen/rust-toolchain.toml.
channel: nightly
# The Cargo profile that builds the dylibs: dev, or a custom name (letters, digits, _ and -).
profile: hot
# How long a generation may take to stop before the host is restarted (ms, ${STOP_TIMEOUT_MS.min} to ${STOP_TIMEOUT_MS.max}).
stop_timeout_ms: ${STOP_TIMEOUT_MS.default}
# How \`hotgen dev\` runs the app (optional): arguments (\`hotgen dev -- ARGS\` replaces
# them), extra environment, and the working directory relative to the workspace root.
# app: { args: [--config, dev.toml], env: { RUST_LOG: debug }, cwd: . }
# Computed by \`hotgen init\` from the workspace and read by \`hotgen dev\`; do not edit.
crates: []
`;

function planObject(plan: HotPlan, s: PlanSettings): Obj {
  return {
    version: PLAN_VERSION,
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
  return doc.toString({ lineWidth: 0, doubleQuotedAsJSON: true });
}
