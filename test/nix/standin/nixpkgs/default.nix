# `import nixpkgs { system; overlays; }` for the stand-in: a package set closed under
# its overlays (final/prev), like nixpkgs' own fixpoint.
{ system, overlays ? [ ], ... }:
let
  lib = import ./lib.nix;
  host = import ./host.nix;
  fix = f: let x = f x; in x;
  base = final: import ./pkgs.nix { inherit lib host system final; };
in
fix (final: builtins.foldl' (prev: overlay: prev // overlay final prev) (base final) overlays)
