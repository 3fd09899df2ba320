/**
 * Renders hotgen's generated files from the handlebars templates in `templates/`:
 * nix/hotgen.nix (the dev shell and check), flake.nix (a thin wrapper importing it, only
 * when the user owns no flake), hotgen/rust-toolchain.toml, hotgen/cargo-config.toml,
 * .envrc and the entry shim: new files only (common/layout.ts).
 * Templates are read once per process from the package's `templates/` directory; their
 * helpers escape for the file's language (`nixstr`, `indstr`, `shq`, `tomlstr`,
 * `tomlkey`, `rustdoc`, `yamlstr`: escape.ts), and the templates use no raw value that
 * is not validated (profile, pin, linker names).
 */
import { readFileSync, existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Handlebars } from '../common/deps-render.js';
import { parseToml } from '../common/deps-config.js';
import { InternalError, UserError } from '../common/errors.js';
import { checkProfileName, escapeControls, shown } from '../common/plan-rules.js';
import { ABI_VERSION, type HotPlan, type WorkspaceGraph } from '../common/types.js';
import { CARGO_CONFIG_FILE, FLAKE_FILE, NIX_MODULE_FILE, PLAN_FILE, TOOLCHAIN_FILE } from '../common/layout.js';
import { linkerBinary, parsePin, profileDir } from '../common/toolchain.js';
import { nixIndented, nixStoreName, nixString, rustDocCode, shellWord, tomlKey, tomlString, yamlScalar } from './escape.js';
import { displayPath } from '../common/fsx.js';

export { nixIndented, nixString, shellWord, tomlString };

/** What a rendered file is, which decides `init`'s overwrite policy. */
export type RenderedKind = 'flake' | 'flake-module' | 'toolchain' | 'cargo-config' | 'envrc' | 'entry-shim';

/** One generated file. `path` is relative to the workspace root, `/`-separated. */
export interface RenderedFile {
  path: string;
  kind: RenderedKind;
  content: string;
}

/** Inputs beyond the plan: whether a user-owned `flake.nix` already exists at the root. */
export interface RenderOptions {
  /** True: render `nix/hotgen.nix` (a module to import) instead of `flake.nix`. */
  flakeExists: boolean;
  /** Resolves symlinks in an absolute path (default {@link realpathNearest}); injectable for tests. */
  realpath?: (p: string) => string;
}

/** The rendered files plus human instructions `init` prints afterwards (one paragraph each). */
export interface RenderResult {
  files: RenderedFile[];
  notes: string[];
}

/**
 * The package's `templates/` directory: the nearest ancestor of this file holding a
 * `package.json` and a `templates/` dir (works from `dist/generator/` and from sources).
 * @throws InternalError when none is found (a broken install).
 */
export function templatesDir(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return path.join(dir, 'templates');
    if (path.dirname(dir) === dir) throw new InternalError(`no templates/ directory above ${from}`);
  }
}

type Compiled = (ctx: object) => string;
let engine: { hb: typeof Handlebars; cache: Map<string, Compiled> } | undefined;

function template(name: string): Compiled {
  if (!engine) {
    const hb = Handlebars.create();
    hb.registerHelper('nixstr', (s: unknown) => new hb.SafeString(nixString(String(s))));
    hb.registerHelper('indstr', (s: unknown) => new hb.SafeString(nixIndented(String(s))));
    hb.registerHelper('shq', (s: unknown) => new hb.SafeString(shellWord(String(s))));
    hb.registerHelper('tomlstr', (s: unknown) => new hb.SafeString(tomlString(String(s))));
    hb.registerHelper('tomlkey', (s: unknown) => new hb.SafeString(tomlKey(String(s))));
    hb.registerHelper('rustdoc', (s: unknown) => new hb.SafeString(rustDocCode(String(s))));
    hb.registerHelper('yamlstr', (s: unknown) => new hb.SafeString(yamlScalar(String(s))));
    engine = { hb, cache: new Map() };
  }
  let t = engine.cache.get(name);
  if (!t) {
    const src = readFileSync(path.join(templatesDir(), name), 'utf8');
    t = engine.hb.compile(src, { noEscape: true, strict: true });
    engine.cache.set(name, t);
  }
  return t;
}

/** Renders `templates/<name>` with `vars` (strict: a missing variable is an InternalError). */
export function renderTemplate(name: string, vars: object): string {
  try {
    // No template needs trailing blanks; an empty `{{#if}}` branch would leave some.
    return template(name)(vars).replace(/[ \t]+$/gm, '');
  } catch (err) {
    throw new InternalError(`rendering template ${name}: ${(err as Error).message}`, { cause: err });
  }
}

/** Variables of the templates: flake.nix, nix/hotgen.nix and hotgen/rust-toolchain.toml. */
export function nixVars(plan: HotPlan, graph: WorkspaceGraph): Record<string, unknown> {
  checkProfileName(plan.profile, { file: PLAN_FILE });
  const pin = parsePin(plan.toolchain);
  const linkerBin = linkerBinary(plan.linker);
  const linkerPkg = plan.linker === 'mold' ? 'mold' : plan.linker === 'lld' ? 'lld' : undefined;
  return {
    pin: pin.spec,
    toolchainFile: TOOLCHAIN_FILE,
    toolchainDir: path.posix.dirname(TOOLCHAIN_FILE),
    moduleFile: NIX_MODULE_FILE,
    planFile: PLAN_FILE,
    configFile: CARGO_CONFIG_FILE,
    linker: plan.linker,
    linkerBin,
    linkerPkg,
    linkerDesc: linkerBin ? `clang driving ${plan.linker}` : plan.linker === 'gold' ? 'gold (chosen by hotgen dev per crate)' : 'the default linker',
    profile: plan.profile,
    profileDir: profileDir(plan.profile),
    checkName: nixStoreName(`hotgen-${plan.profile}-build`),
    description: `${path.basename(graph.root)}: Rust dev shell with crate-level hot reloading (hotgen)`,
  };
}

/**
 * `p` with every symlink resolved; for a path that does not exist (yet), its nearest
 * existing ancestor resolved and the rest appended.
 */
export function realpathNearest(p: string): string {
  const rest: string[] = [];
  for (let dir = path.resolve(p); ; dir = path.dirname(dir)) {
    try {
      return path.join(realpathSync.native(dir), ...rest);
    } catch {
      if (path.dirname(dir) === dir) return path.resolve(p);
      rest.unshift(path.basename(dir));
    }
  }
}

const outside = (rel: string) => rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);

/**
 * The entry crate's library root file (`lib.rs`), relative to the workspace root
 * (`/`-separated). The shim is written beside it, so its directory must be inside the
 * workspace also once symlinks are resolved.
 * @throws UserError naming the entry's Cargo.toml when the file or, through a symlink,
 *   its directory is outside the workspace.
 */
function entryLibPath(plan: HotPlan, graph: WorkspaceGraph, realpath: (p: string) => string): string {
  const node = graph.crates.get(plan.entry);
  if (!node) throw new UserError(`the entry crate ${shown(plan.entry)} is not a workspace member`, { file: PLAN_FILE });
  const lib = node.libSrcPath ?? path.join(path.dirname(node.manifestPath), 'src', 'lib.rs');
  const rel = path.relative(graph.root, lib);
  const asWritten = path.relative(path.dirname(node.manifestPath), lib);
  const refuse = (why: string) =>
    new UserError(`the entry's library file ${shown(asWritten)} ${why}, and hotgen writes hotgen_entry.rs beside it`, {
      file: displayPath(node.manifestPath),
      hint: 'Keep the entry crate\'s `[lib] path` inside the workspace (no symlink out of it), or pick another entry with --entry NAME.',
    });
  if (outside(rel)) throw refuse('is outside the workspace');
  const realDir = realpath(path.dirname(lib));
  if (outside(path.relative(realpath(graph.root), realDir))) throw refuse(`is in ${shown(realDir)} through a symlink, outside the workspace`);
  return rel.split(path.sep).join('/');
}

/**
 * Renders every generated file for `plan` (pure apart from reading the templates and
 * resolving the symlinks above the entry's `lib.rs`). Paths are relative to the
 * workspace root. The entry shim goes beside the entry's `lib.rs`, since
 * `mod hotgen_entry;` there resolves to `hotgen_entry.rs` in that directory. Every value
 * spliced into a file goes through the escaper of that file's language (escape.ts).
 * @throws UserError for an unknown entry crate, an entry `lib.rs` outside the workspace,
 *   a bad profile name or toolchain pin.
 */
export function renderFiles(plan: HotPlan, graph: WorkspaceGraph, opts: RenderOptions): RenderResult {
  const vars = nixVars(plan, graph);
  const files: RenderedFile[] = [];
  const notes: string[] = [];
  if (!opts.flakeExists) files.push({ path: FLAKE_FILE, kind: 'flake', content: renderTemplate('flake.nix.hbs', vars) });
  files.push({ path: NIX_MODULE_FILE, kind: 'flake-module', content: renderTemplate('hotgen.nix.hbs', vars) });
  notes.push(
    opts.flakeExists
      ? flakeModuleNote()
      : 'Enter the dev shell with `nix develop` (or `direnv allow`). In a git repository, first ' +
          `\`git add ${FLAKE_FILE} ${path.posix.dirname(NIX_MODULE_FILE)} ${path.posix.dirname(TOOLCHAIN_FILE)} .envrc\`: Nix does not see untracked files.`,
  );
  files.push({ path: TOOLCHAIN_FILE, kind: 'toolchain', content: renderTemplate('rust-toolchain.toml.hbs', vars) });
  files.push({ path: CARGO_CONFIG_FILE, kind: 'cargo-config', content: renderTemplate('cargo-config.toml.hbs', { ...vars, custom: plan.profile !== 'dev' }) });
  files.push({ path: '.envrc', kind: 'envrc', content: renderTemplate('envrc.hbs', vars) });
  const libPath = entryLibPath(plan, graph, opts.realpath ?? realpathNearest);
  const shimPath = path.posix.join(path.posix.dirname(libPath), 'hotgen_entry.rs');
  const serve = plan.listen.length > 0;
  files.push({ path: shimPath, kind: 'entry-shim', content: renderEntryShim(libPath, serve) });
  notes.push(entryNote(plan.entry, libPath, serve));
  return { files, notes };
}

/** The lines to add to an existing flake.nix for nix/hotgen.nix. */
function flakeModuleNote(): string {
  return [
    `Your ${FLAKE_FILE} was left alone; hotgen wrote ${NIX_MODULE_FILE}. Add to your flake:`,
    '  inputs.rust-overlay = { url = "github:oxalica/rust-overlay"; inputs.nixpkgs.follows = "nixpkgs"; };',
    'and in outputs, for each system:',
    '  pkgs = import nixpkgs { inherit system; overlays = [ rust-overlay.overlays.default ]; };',
    `  hotgen = import ./${NIX_MODULE_FILE} { inherit pkgs; };`,
    '  devShells.${system}.default = hotgen.devShell;',
    '  checks.${system}.hotgen-build = hotgen.check;',
    '(or merge hotgen.packages, hotgen.env and hotgen.shellHook into your own mkShell).',
    `In a git repository, \`git add ${path.posix.dirname(NIX_MODULE_FILE)} ${path.posix.dirname(TOOLCHAIN_FILE)}\`: Nix does not see untracked files.`,
  ].join('\n');
}

/**
 * The entry shim (templates/hotgen_entry.rs.hbs) for an entry whose root file is
 * `libPath` (workspace-relative, shown in its header): the safe wrapper around the entry
 * ABI of {@link ABI_VERSION}, with the snippet of {@link entrySnippet} in its docs
 * (`serve`: the plan has listen addresses).
 */
export function renderEntryShim(libPath: string, serve = false): string {
  const snippet = entrySnippet(serve).map((l) => `//! ${l}`.trimEnd()).join('\n');
  return renderTemplate('hotgen_entry.rs.hbs', { libPath, snippet, abiVersion: ABI_VERSION });
}

/**
 * The lines the user adds to the entry crate's root file. The inline module carries the
 * `allow`: rustc checks `#[cfg(hotgen)]` against the declared cfgs (`unexpected_cfgs`,
 * Rust >= 1.80) and only the hot build declares `hotgen`, while an `allow` on the
 * `#[cfg]`-ed item itself is never seen (checked with stable 1.95). `#[path = "."]` makes
 * the inline module's directory the root file's own: without it rustc looks for
 * `src/hot/../hotgen_entry.rs`, which the OS resolves only where a `src/hot/` directory
 * exists (checked with nightly 1.97). `serve` (the plan has listen addresses) gives an
 * accept loop on the first socket; otherwise the body waits for stop (a REPL, a game).
 */
export function entrySnippet(serve = false): string[] {
  const body = serve
    ? [
        '    /// Serve until `ctx.wait_stop(..)` says stop, join every thread you started, return 0.',
        '    #[cfg(hotgen)]',
        '    fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {',
        '        let listener = ctx.listeners().expect("the host\'s listening sockets").remove(0);',
        '        listener.set_nonblocking(true).expect("a non-blocking listener");',
        '        // (a value kept across reloads: ctx.state(init), see hotgen_entry::FrozenState)',
        '        while !ctx.wait_stop(Some(std::time::Duration::from_millis(20))) {',
        '            while let Ok((conn, _peer)) = listener.accept() {',
        '                drop(conn); // ... serve the connection; join what you spawn before returning ...',
        '            }',
        '        }',
        '        0',
        '    }',
      ]
    : [
        '    /// Run until `ctx.wait_stop(..)` says stop, join every thread you started, return 0.',
        '    #[cfg(hotgen)]',
        '    fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {',
        '        // ... your work: threads you join before returning; stdin through ctx.read_line ...',
        '        // (a value kept across reloads: ctx.state(init), see hotgen_entry::FrozenState)',
        '        ctx.wait_stop(None);',
        '        0',
        '    }',
      ];
  return [
    '// Hot reloading (hotgen): compiled only by the hot build, which sets `--cfg hotgen`.',
    '#[allow(unexpected_cfgs)]',
    '#[path = "."]',
    'mod hot {',
    '    #[cfg(hotgen)]',
    '    #[path = "hotgen_entry.rs"]',
    '    #[rustfmt::skip] // keeps `cargo fmt` working where the file is absent',
    '    mod hotgen_entry;',
    '',
    ...body,
    '}',
  ];
}

/** The instructions for the one function the user writes (same as the shim's header). */
function entryNote(entry: string, libPath: string, serve: boolean): string {
  return [
    `Entry crate ${shown(entry)}: add to ${escapeControls(libPath)}:`,
    '',
    ...entrySnippet(serve).map((l) => `  ${l}`.trimEnd()),
    '',
    'Ordinary builds never compile this module and raise no warning; only `hotgen dev` sets `--cfg hotgen`.',
  ].join('\n');
}

/**
 * The `name-version` of every git dependency in a Cargo.lock text (packages whose
 * `source` starts with `git+`); empty for a lock that does not parse (cargo reports that).
 * nixpkgs' importCargoLock needs an `outputHashes` entry for each of them
 * (pkgs/build-support/rust/import-cargo-lock.nix), keyed the same way.
 */
export function lockedGitDeps(lockText: string): string[] {
  let lock: { package?: { name?: unknown; version?: unknown; source?: unknown }[] };
  try {
    lock = parseToml(lockText) as typeof lock;
  } catch {
    return [];
  }
  const pkgs = Array.isArray(lock.package) ? lock.package : [];
  return pkgs.filter((p) => typeof p.source === 'string' && p.source.startsWith('git+')).map((p) => `${String(p.name)}-${String(p.version)}`);
}

/** The note `init` prints when Cargo.lock has git dependencies (`nixFile`: where `cargoOutputHashes` is, nix/hotgen.nix). */
export function gitDepsNote(deps: string[], nixFile: string = NIX_MODULE_FILE): string {
  return [
    `Cargo.lock has git dependencies (${deps.join(', ')}): the Nix check vendors them only with a hash each.`,
    `Add them to \`cargoOutputHashes\` in ${nixFile}, e.g. ${nixString(deps[0] ?? 'name-version')} = "sha256-...";`,
    '(`nix flake check` stops at each one missing; the hash is that of the fetched git tree).',
  ].join('\n');
}
