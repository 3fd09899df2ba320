/**
 * File watching for `hotgen dev` (chokidar, through common/deps.ts): the members'
 * sources and manifests (to build on save), or cargo's output directory (to pick up
 * builds made elsewhere with `--no-build`). Events are debounced into one callback.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { chokidar } from '../common/deps-watch.js';
import type { HotPlan } from '../common/types.js';
import { CARGO_CONFIG_FILE } from '../common/layout.js';

/** A running watcher; `await using` (or `close()`) stops it. */
export interface Watcher extends AsyncDisposable {
  close(): Promise<void>;
}

/** Options for {@link watchPaths}. */
export interface WatchOptions {
  /**
   * Quiet time after the last event before `onChange` fires, ms. Default 10: enough for
   * the events of one save (an editor's write-and-rename comes within a millisecond or
   * two), and a save still in progress when the build starts triggers another build
   * (loader/supervisor.ts), so a short wait loses nothing; every ms of it is in each reload.
   */
  debounceMs?: number;
  /** Return true to ignore a path (absolute). */
  ignore?: (file: string) => boolean;
  /** How deep to descend into watched directories (chokidar `depth`; default unlimited). */
  depth?: number;
  /** Called at once for every event (before debouncing), e.g. to note when sources last changed. */
  onEvent?: (file: string) => void;
  /** Called with the changed paths (absolute) once events stop for `debounceMs`. */
  onChange: (files: string[]) => void;
}

/**
 * Watches `paths` (files or directories; missing ones are skipped) and resolves once
 * the initial scan is done, so an edit made after this resolves is always seen.
 */
export async function watchPaths(paths: readonly string[], opts: WatchOptions): Promise<Watcher> {
  const existing: string[] = [];
  for (const p of paths) {
    if (await fs.stat(p).then(() => true, () => false)) existing.push(p);
  }
  const watcher = chokidar.watch(existing, {
    ignoreInitial: true,
    ignored: opts.ignore ? (p: string) => opts.ignore!(path.resolve(p)) : undefined,
    depth: opts.depth,
  });
  let timer: NodeJS.Timeout | undefined;
  const changed = new Set<string>();
  watcher.on('all', (_event: string, file: string) => {
    changed.add(path.resolve(file));
    opts.onEvent?.(path.resolve(file));
    clearTimeout(timer);
    timer = setTimeout(() => {
      const files = [...changed];
      changed.clear();
      opts.onChange(files);
    }, opts.debounceMs ?? 10);
  });
  await new Promise<void>((resolve, reject) => {
    watcher.once('ready', () => resolve());
    watcher.once('error', reject);
  });
  const close = async () => {
    clearTimeout(timer);
    await watcher.close();
  };
  return { close, [Symbol.asyncDispose]: close };
}

/**
 * What to watch for source changes: every plan crate's `src` directories, the
 * `Cargo.toml` and `build.rs` beside each, the root manifest, `Cargo.lock` (a changed
 * lock restarts the host with new registry dylibs), hotgen's Cargo config and the
 * workspace's own (`.cargo/config.toml`: a change there makes cargo build the next
 * change, loader/fastbuild.ts). `target/` and `.hotgen/` are ignored.
 */
export function sourcePaths(root: string, plan: HotPlan): { paths: string[]; ignore: (file: string) => boolean } {
  const paths = new Set<string>([
    path.join(root, 'Cargo.toml'),
    path.join(root, 'Cargo.lock'),
    path.join(root, CARGO_CONFIG_FILE),
    path.join(root, '.cargo', 'config.toml'),
    path.join(root, '.cargo', 'config'),
  ]);
  for (const c of plan.crates) {
    for (const s of c.src) {
      const dir = path.resolve(root, s);
      paths.add(dir);
      const crateDir = path.basename(dir) === 'src' ? path.dirname(dir) : dir;
      paths.add(path.join(crateDir, 'Cargo.toml'));
      paths.add(path.join(crateDir, 'build.rs'));
    }
  }
  const skip = [path.join(root, 'target') + path.sep, path.join(root, '.hotgen') + path.sep];
  const ignore = (file: string) => skip.some((s) => file.startsWith(s) || file + path.sep === s) || /(^|\/)\.[^/]*\.sw.$|~$/.test(file);
  return { paths: [...paths], ignore };
}

/** For `--no-build`: the profile's output directory, top level only, `lib*.so` files. */
export function outputPaths(outDir: string): { paths: string[]; ignore: (file: string) => boolean; depth: number } {
  return {
    paths: [outDir],
    depth: 0,
    ignore: (file) => file !== outDir && !/\/lib[^/]*\.so$/.test(file),
  };
}
