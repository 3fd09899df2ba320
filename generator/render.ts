/**
 * Renders the files `hotgen init` generates from the handlebars templates in
 * `templates/`. Pure: returns contents; `generator/init.ts` decides what to write.
 */

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
}

/** The rendered files plus human instructions `init` prints afterwards (one paragraph each). */
export interface RenderResult {
  files: RenderedFile[];
  notes: string[];
}

export { renderFiles } from './render-impl.js';
