/**
 * Third-party parsers for the files hotgen reads (hotgen.yaml, Cargo manifests, the
 * toolchain file). The vendor modules are split by use, so a command loads only what it
 * needs: `deps-config.ts` (YAML, TOML), `deps-render.ts` (templates, diffs; init, ci),
 * `deps-watch.ts` (the file watcher; dev), and `ffi.ts` (koffi; the host and the lock).
 */
import YAML from 'yaml';
import { parse as parseToml } from 'toml';

export { YAML, parseToml };
