/**
 * The dynamic symbols a shared object defines (what the dylibs loaded after it can bind to)
 * and the ones it needs, read from its ELF `.dynsym` section. Layouts from the System V
 * ABI (ELF-64 object file format: header, section headers, `Elf64_Sym`); 64-bit
 * little-endian objects only, the x86_64 and aarch64 Linux targets hotgen runs on.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

const SHT_DYNSYM = 11;
const STB_GLOBAL = 1;
const STB_WEAK = 2;

/** The global and weak symbols of a dynamic symbol table: those defined here, and those needed from elsewhere. */
export interface DynamicSymbols {
  defined: Set<string>;
  undefined: Set<string>;
}

/** Whether `h` starts with the identification of a 64-bit little-endian ELF object. */
function isElf64LE(h: Buffer): boolean {
  return h.length >= 64 && h.readUInt32BE(0) === 0x7f454c46 && h[4] === 2 && h[5] === 1;
}

/** The bytes of `file` when it is a 64-bit little-endian ELF object (undefined: unreadable, or anything else). */
export function readElf64(file: string): Buffer | undefined {
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch {
    return undefined;
  }
  return isElf64LE(b) ? b : undefined;
}

/**
 * The global and weak symbols in the dynamic symbol table of `file`, or undefined when it
 * cannot be read or is not a 64-bit little-endian ELF file. Reads only the header, the
 * section headers and the two sections (a few hundred KiB for a dylib of several MiB):
 * synchronous, about a millisecond.
 */
export function dynamicSymbols(file: string): DynamicSymbols | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const at = (pos: number, len: number): Buffer | undefined => {
      const b = Buffer.allocUnsafe(len);
      return len >= 0 && readSync(fd, b, 0, len, pos) === len ? b : undefined;
    };
    const h = at(0, 64);
    if (!h || !isElf64LE(h)) return undefined;
    const shentsize = h.readUInt16LE(0x3a);
    const shnum = h.readUInt16LE(0x3c);
    const sh = shentsize >= 64 ? at(Number(h.readBigUInt64LE(0x28)), shnum * shentsize) : undefined;
    if (!sh) return undefined;
    const section = (i: number) => {
      const o = i * shentsize;
      return { type: sh.readUInt32LE(o + 4), offset: Number(sh.readBigUInt64LE(o + 0x18)), size: Number(sh.readBigUInt64LE(o + 0x20)), link: sh.readUInt32LE(o + 0x28), entsize: Number(sh.readBigUInt64LE(o + 0x38)) };
    };
    const out: DynamicSymbols = { defined: new Set(), undefined: new Set() };
    for (let i = 0; i < shnum; i++) {
      const sym = section(i);
      if (sym.type !== SHT_DYNSYM) continue;
      const link = sym.link < shnum ? section(sym.link) : undefined;
      const syms = sym.entsize >= 24 ? at(sym.offset, sym.size) : undefined;
      const strs = link && at(link.offset, link.size);
      if (!syms || !strs) return undefined;
      for (let o = 0; o + 24 <= syms.length; o += sym.entsize) {
        const bind = syms[o + 4] >> 4;
        if (bind !== STB_GLOBAL && bind !== STB_WEAK) continue;
        const name = syms.readUInt32LE(o);
        const end = strs.indexOf(0, name);
        if (end > name) (syms.readUInt16LE(o + 6) === 0 ? out.undefined : out.defined).add(strs.toString('latin1', name, end));
      }
      break;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * {@link dynamicSymbols} remembered by path, size, mtime and inode: a dylib that was not
 * rebuilt is read once per session.
 */
export class SymbolCache {
  private readonly files = new Map<string, { key: string; syms?: DynamicSymbols }>();

  /** The symbols of `file` as it is now (undefined: see {@link dynamicSymbols}). */
  get(file: string): DynamicSymbols | undefined {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st) return undefined;
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    const hit = this.files.get(file);
    if (hit?.key === key) return hit.syms;
    const syms = dynamicSymbols(file);
    this.files.set(file, { key, syms });
    return syms;
  }
}

/** Symbols of `before` missing from `after` that `needed` holds (at most `limit` of them, to name in a message). */
export function lostSymbols(before: ReadonlySet<string>, after: ReadonlySet<string>, needed: ReadonlySet<string>, limit = 3): string[] {
  const out: string[] = [];
  for (const s of before) {
    if (after.has(s) || !needed.has(s)) continue;
    out.push(s);
    if (out.length >= limit) break;
  }
  return out;
}
