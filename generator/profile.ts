/**
 * The rustflags a hot profile needs, and merging them into a user's existing list
 * without duplicates. Flags are handled as "units": one rustc option with its argument
 * (`-C prefer-dynamic` and `-Cprefer-dynamic=true` are the same unit).
 */
import type { Linker, Role } from '../common/types.js';

/** Flags every crate built by the hot profile gets: the `hotgen` cfg (checked) and dynamic std. */
export const BASE_FLAGS: readonly string[] = ['--cfg', 'hotgen', '--check-cfg', 'cfg(hotgen)', '-C', 'prefer-dynamic'];

/**
 * Extra flags for frozen crates: `-z nodelete` keeps the object mapped forever, so
 * runtimes and registries it owns survive reloads (REFERENCE.md, DF_1_NODELETE).
 */
export const FROZEN_FLAGS: readonly string[] = ['-C', 'link-arg=-Wl,-z,nodelete'];

/** Extra flags for the entry crate: a cfg that user code can test to know it is the entry. */
export const ENTRY_FLAGS: readonly string[] = ['--cfg', 'hotgen_entry', '--check-cfg', 'cfg(hotgen_entry)'];

/**
 * The link-arg selecting `linker` through the C compiler driver (`-fuse-ld=`);
 * empty for `default`. mold first: gold is deprecated since binutils 2.44 (REFERENCE.md).
 */
export function linkerFlags(linker: Linker): string[] {
  return linker === 'default' ? [] : ['-C', `link-arg=-fuse-ld=${linker}`];
}

/** The profile-level rustflags hotgen requires for `linker`. */
export function profileFlags(linker: Linker): string[] {
  return [...BASE_FLAGS, ...linkerFlags(linker)];
}

/**
 * The complete rustflags for one crate of `role`. Cargo's per-package `rustflags`
 * REPLACE the profile's list (REFERENCE.md, checked), so a per-package list repeats
 * `profileList` (the profile's full list, user flags included) and adds the role's flags.
 * Returns undefined for roles that need no per-package table (reloadable, excluded).
 */
export function roleRustflags(role: Role, profileList: readonly string[]): string[] | undefined {
  if (role === 'frozen') return mergeFlags(profileList, FROZEN_FLAGS);
  if (role === 'entry') return mergeFlags(profileList, ENTRY_FLAGS);
  return undefined;
}

const WITH_ARG = new Set(['-C', '--codegen', '-Z', '--cfg', '--check-cfg', '-L', '-l', '--cap-lints', '-A', '-W', '-D', '-F']);

/** Splits a rustflags list into units (an option plus its argument, or a lone token). */
export function flagUnits(flags: readonly string[]): string[][] {
  const units: string[][] = [];
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (WITH_ARG.has(f) && i + 1 < flags.length) {
      units.push([f, flags[i + 1]!]);
      i++;
    } else units.push([f]);
  }
  return units;
}

/** A comparable form of a unit: `-Cprefer-dynamic=true`, `-C prefer-dynamic` → `-C prefer-dynamic`. */
export function unitKey(unit: readonly string[]): string {
  let opt: string;
  let arg: string;
  if (unit.length === 2) [opt, arg] = unit as [string, string];
  else {
    const m = /^(-C|-Z|--cfg=|--check-cfg=|--codegen=)(.+)$/.exec(unit[0]!);
    if (!m) return unit[0]!;
    opt = m[1]!.replace(/=$/, '');
    arg = m[2]!;
  }
  if (opt === '--codegen') opt = '-C';
  if (opt === '-C' || opt === '-Z') arg = arg.replace(/=(true|yes|y|on)$/, '');
  return `${opt} ${arg}`;
}

/** `existing` followed by each unit of `add` that `existing` lacks (order kept, no duplicates). */
export function mergeFlags(existing: readonly string[], add: readonly string[]): string[] {
  const have = new Set(flagUnits(existing).map(unitKey));
  const out = [...existing];
  for (const u of flagUnits(add)) {
    const k = unitKey(u);
    if (!have.has(k)) {
      have.add(k);
      out.push(...u);
    }
  }
  return out;
}
