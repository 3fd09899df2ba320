# Offline stand-in for nixpkgs (tests only): the few attributes hotgen's flake uses,
# built from plain derivations whose builder is /bin/bash. Host tools (clang, mold,
# lld) are symlinked from the machine; see host.nix, written by test/nix/nixenv.ts.
{
  description = "hotgen test stand-in for nixpkgs";

  outputs = { self }:
    let
      lib = import ./lib.nix;
      systems = [ "x86_64-linux" "aarch64-linux" ];
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs systems (system: import ./. { inherit system; });
    };
}
