/**
 * A tiny initialised workspace for the Nix and env tests, written by hand the way
 * `hotgen init` leaves one: two library crates (`base` ← `app`, the entry) whose
 * manifests hotgen does not touch, the entry's `lib.rs` with the snippet `init` prints,
 * hotgen.yaml, and the generated files from `renderFiles` (hotgen/rust-toolchain.toml,
 * hotgen/cargo-config.toml, nix/hotgen.nix, flake.nix or a user's own, .envrc, the shim).
 */
import path from 'node:path';
import type { HotPlan, Linker, WorkspaceGraph, CrateNode } from '../../common/types.js';
import { renderFiles } from '../../generator/render.js';
import type { Tree } from '../helpers/tree.js';

/** Settings that vary between tests. */
export interface FixtureOptions {
  linker?: Linker;
  channel?: 'nightly' | 'stable';
  toolchain?: string;
  profile?: string;
  /** True: a user flake.nix exists, so only nix/hotgen.nix is rendered (and a user flake importing it). */
  flakeExists?: boolean;
}

/** The plan for the fixture. */
export function fixturePlan(o: FixtureOptions = {}): HotPlan {
  return {
    version: 1,
    profile: o.profile ?? 'hot',
    channel: o.channel ?? 'nightly',
    toolchain: o.toolchain ?? 'nightly-2026-05-19',
    linker: o.linker ?? 'mold',
    entry: 'app',
    listen: [],
    stopTimeoutMs: 5000,
    crates: [
      { name: 'base', role: 'reloadable', lib: 'base', deps: [], src: ['base/src'] },
      { name: 'app', role: 'entry', lib: 'app', deps: ['base'], src: ['app/src'] },
    ],
  };
}

/** The graph `loadWorkspace` would give for the fixture at `root`. */
export function fixtureGraph(root: string): WorkspaceGraph {
  const node = (name: string, deps: string[]): CrateNode => ({
    name,
    libName: name,
    manifestPath: path.join(root, name, 'Cargo.toml'),
    kinds: ['lib'],
    bins: [],
    procMacro: false,
    deps,
    srcDirs: [path.join(root, name, 'src')],
  });
  return {
    root,
    rootManifest: path.join(root, 'Cargo.toml'),
    virtual: true,
    targetDir: path.join(root, 'target'),
    crates: new Map([
      ['base', node('base', [])],
      ['app', node('app', ['base'])],
    ]),
    order: ['base', 'app'],
  };
}

function yamlPlan(p: HotPlan): string {
  const crates = p.crates.map((c) => `  - name: ${c.name}\n    role: ${c.role}\n    lib: ${c.lib}\n    deps: [${c.deps.join(', ')}]\n    src: [${c.src.join(', ')}]`);
  return [
    'version: 1',
    `entry: ${p.entry}`,
    'frozen: []',
    'exclude: []',
    'listen: []',
    `linker: ${p.linker}`,
    `channel: ${p.channel}`,
    `profile: ${p.profile}`,
    `stop_timeout_ms: ${p.stopTimeoutMs}`,
    'crates:',
    ...crates,
    '',
  ].join('\n');
}

/** A user's own flake.nix that imports nix/hotgen.nix exactly as the `init` note says. */
const USER_FLAKE = `{
  description = "a user's own flake";
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
  inputs.rust-overlay = { url = "github:oxalica/rust-overlay"; inputs.nixpkgs.follows = "nixpkgs"; };
  outputs = { self, nixpkgs, rust-overlay }:
    let
      system = "x86_64-linux";
      pkgs = import nixpkgs { inherit system; overlays = [ rust-overlay.overlays.default ]; };
      hotgen = import ./nix/hotgen.nix { inherit pkgs; };
    in
    {
      devShells.\${system}.default = hotgen.devShell;
      checks.\${system}.hotgen-build = hotgen.check;
    };
}
`;

/**
 * The entry's `lib.rs`: a plain function, and the hot module as `init`'s note gives it
 * (render-impl.ts `entrySnippet`) with a `hotgen_run` that returns at once when asked to
 * stop. Ordinary builds compile only `greeting`, without a warning.
 */
export const FIXTURE_APP_LIB =
  'pub fn greeting() -> String {\n    format!("hello from {}", base::name())\n}\n\n' +
  '#[allow(unexpected_cfgs)]\n#[path = "."]\nmod hot {\n' +
  '    #[cfg(hotgen)]\n    #[path = "hotgen_entry.rs"]\n    #[rustfmt::skip]\n    mod hotgen_entry;\n\n' +
  '    #[cfg(hotgen)]\n    fn hotgen_run(ctx: &hotgen_entry::Context) -> i32 {\n' +
  '        let _ = ctx.listeners();\n        if ctx.stop_requested() { 0 } else { super::greeting().len() as i32 }\n    }\n}\n';

/**
 * The fixture's files for a workspace at `root`: manifests (as the user wrote them),
 * sources, hotgen.yaml and every file `renderFiles` generates (so the entry shim is
 * compiled for real, and the pin is read from hotgen/rust-toolchain.toml).
 */
export function fixtureTree(root: string, o: FixtureOptions = {}): { tree: Tree; plan: HotPlan; notes: string[] } {
  const plan = fixturePlan(o);
  const member = (name: string, deps: string) => `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n${deps}`;
  const tree: Tree = {
    'Cargo.toml': '[workspace]\nmembers = ["base", "app"]\nresolver = "2"\n',
    'base/Cargo.toml': member('base', ''),
    'base/src/lib.rs': 'pub fn name() -> &\'static str {\n    "base"\n}\n',
    'app/Cargo.toml': member('app', 'base = { path = "../base" }\n'),
    'app/src/lib.rs': FIXTURE_APP_LIB,
    'hotgen.yaml': yamlPlan(plan),
  };
  const rendered = renderFiles(plan, fixtureGraph(root), { flakeExists: Boolean(o.flakeExists) });
  for (const f of rendered.files) tree[f.path] = f.content;
  if (o.flakeExists) tree['flake.nix'] = USER_FLAKE;
  return { tree, plan, notes: rendered.notes };
}
