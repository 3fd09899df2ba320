/**
 * The host's table of mapped modules: loads bottom-up, unloads top-down, and verifies
 * every unload with `RTLD_NOLOAD`. When an object stays mapped it names the likely
 * cause from the ELF dynamic sections (DF_1_NODELETE, a DT_NEEDED from a module that
 * stays loaded). Runs on the host's main thread; it never calls module code.
 */
import { readElf64 } from './elfsyms.js';
import path from 'node:path';
import type { ModuleSpec, HostFaultCause } from './protocol.js';
import { RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL, isMapped, lastDlError, libc, type Pointer } from './dl.js';

/** A mapped module and the main thread's reference on it. */
export interface LoadedModule extends ModuleSpec {
  handle: Pointer;
}

/** A module could not be loaded or unloaded; `module` names it, `cause` classifies it. */
export class ModuleError extends Error {
  constructor(
    readonly module: string,
    message: string,
    readonly fault: HostFaultCause,
  ) {
    super(message);
  }
}

/** Mapped modules in load order (bottom-up). */
export class ModuleTable {
  readonly #mods: LoadedModule[] = [];

  /** Names in load order. */
  names(): string[] {
    return this.#mods.map((m) => m.name);
  }

  /** The mapped entry module, if any. */
  entry(): LoadedModule | undefined {
    return this.#mods.find((m) => m.role === 'entry');
  }

  /**
   * dlopens `specs` in the given (bottom-up) order: registry, reloadable and frozen ones with
   * RTLD_LAZY|RTLD_GLOBAL so later modules bind to them by SONAME, the entry with
   * RTLD_LAZY|RTLD_LOCAL since nothing links against it (dlopen(3): RTLD_GLOBAL makes a
   * module's symbols available to the objects loaded after it).
   * @throws ModuleError ('load-failed') with dlerror's text; modules mapped before
   *   the failing one stay mapped.
   */
  load(specs: ModuleSpec[]): void {
    const c = libc();
    for (const spec of specs) {
      if (this.#mods.some((m) => m.name === spec.name)) {
        throw new ModuleError(spec.name, `module ${spec.name} is already loaded; unload it before loading ${spec.path}`, 'protocol');
      }
      const flags = RTLD_LAZY | (spec.role === 'entry' ? RTLD_LOCAL : RTLD_GLOBAL);
      const handle = c.dlopen(spec.path, flags);
      if (handle === null) {
        throw new ModuleError(spec.name, `cannot load module ${spec.name} (${spec.path}): ${lastDlError()}`, 'load-failed');
      }
      this.#mods.push({ name: spec.name, role: spec.role, path: spec.path, handle });
    }
  }

  /**
   * dlcloses `names` in the given (top-down) order and checks after each one that the
   * object is gone (`dlopen(path, RTLD_LAZY|RTLD_NOLOAD)` is NULL). Call only after
   * the generation thread has exited.
   * @throws ModuleError: 'frozen' for a frozen module, 'still-mapped' (message names
   *   the likely cause) when an object survives its dlclose, 'protocol' for an unknown name.
   */
  unload(names: string[]): void {
    const c = libc();
    for (const name of names) {
      const i = this.#mods.findIndex((m) => m.name === name);
      if (i < 0) throw new ModuleError(name, `cannot unload ${name}: it is not loaded (loaded: ${this.names().join(', ')})`, 'protocol');
      const m = this.#mods[i];
      if (m.role === 'frozen' || m.role === 'registry') {
        throw new ModuleError(name, `module ${name} is ${m.role === 'frozen' ? 'frozen' : 'a registry dylib'} and is never unloaded; a change in it needs a host restart`, 'frozen');
      }
      this.#mods.splice(i, 1);
      if (c.dlclose(m.handle) !== 0) {
        throw new ModuleError(name, `dlclose of module ${name} (${m.path}) failed: ${lastDlError()}`, 'still-mapped');
      }
      if (isMapped(m.path)) {
        throw new ModuleError(name, `module ${name} is still mapped after dlclose: ${likelyCause(m, this.#mods)}`, 'still-mapped');
      }
    }
  }
}

/** Why `m` may have survived its dlclose, from the ELF files (off the hot path). */
export function likelyCause(m: ModuleSpec, stillLoaded: ModuleSpec[]): string {
  const dyn = readDynamic(m.path);
  if (dyn?.nodelete) {
    return `${m.path} is linked with -z nodelete (DF_1_NODELETE), so glibc never unmaps it; drop that link flag or make ${m.name} a frozen crate`;
  }
  const soname = dyn?.soname ?? path.basename(m.path);
  const users = stillLoaded.filter((o) => readDynamic(o.path)?.needed.includes(soname)).map((o) => o.name);
  if (users.length > 0) {
    return `${users.join(', ')} still loaded and list ${soname} in DT_NEEDED; unload ${users.length > 1 ? 'them' : 'it'} first (top-down)`;
  }
  return 'another reference still holds it (a dlopen handle taken by module code, a thread-local destructor that has not run, or an STB_GNU_UNIQUE symbol)';
}

/** What {@link readDynamic} extracts from an ELF dynamic section. */
export interface DynamicInfo {
  soname?: string;
  needed: string[];
  /** DF_1_NODELETE is set in DT_FLAGS_1. */
  nodelete: boolean;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const DT_FLAGS_1 = 0x6ffffffbn;
const DF_1_NODELETE = 0x8n;

/**
 * Reads DT_SONAME, DT_NEEDED and DF_1_NODELETE of a 64-bit little-endian ELF object
 * (layout from the System V gABI, `<elf.h>`). Returns undefined for anything else or
 * an unreadable file.
 */
export function readDynamic(file: string): DynamicInfo | undefined {
  const b = readElf64(file);
  if (!b) return undefined;
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
  let dyn: { offset: number; size: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = b.readUInt32LE(p);
    const offset = b.readBigUInt64LE(p + 0x08);
    const vaddr = b.readBigUInt64LE(p + 0x10);
    const filesz = b.readBigUInt64LE(p + 0x20);
    if (type === PT_LOAD) loads.push({ vaddr, offset, filesz });
    if (type === PT_DYNAMIC) dyn = { offset: Number(offset), size: Number(filesz) };
  }
  if (!dyn) return undefined;
  const entries: [bigint, bigint][] = [];
  for (let p = dyn.offset; p + 16 <= dyn.offset + dyn.size && p + 16 <= b.length; p += 16) {
    const tag = b.readBigInt64LE(p);
    if (tag === 0n) break;
    entries.push([tag, b.readBigUInt64LE(p + 8)]);
  }
  const strtabVaddr = entries.find(([t]) => t === DT_STRTAB)?.[1];
  const seg = strtabVaddr === undefined ? undefined : loads.find((l) => strtabVaddr >= l.vaddr && strtabVaddr < l.vaddr + l.filesz);
  const str = (off: bigint): string | undefined => {
    if (!seg || strtabVaddr === undefined) return undefined;
    const start = Number(seg.offset + (strtabVaddr - seg.vaddr) + off);
    const end = b.indexOf(0, start);
    return end < 0 ? undefined : b.toString('utf8', start, end);
  };
  const flags1 = entries.find(([t]) => t === DT_FLAGS_1)?.[1] ?? 0n;
  const sonameOff = entries.find(([t]) => t === DT_SONAME)?.[1];
  return {
    soname: sonameOff === undefined ? undefined : str(sonameOff),
    needed: entries.filter(([t]) => t === DT_NEEDED).flatMap(([, v]) => str(v) ?? []),
    nodelete: (flags1 & DF_1_NODELETE) !== 0n,
  };
}

