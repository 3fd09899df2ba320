# Offline stand-in for oxalica/rust-overlay (tests only): `overlays.default` adds
# `rust-bin.<channel>.<date|version>.default`, each a derivation whose output is a
# symlink to a toolchain rustup installed on this machine (see host.nix, written by
# test/nix/nixenv.ts). `.override { extensions = ...; }` returns the same toolchain.
{
  description = "hotgen test stand-in for rust-overlay";

  # Present so that `rust-overlay.inputs.nixpkgs.follows = "nixpkgs"` has something to follow.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }: {
    overlays.default = final: prev:
      let
        host = import ./host.nix;
        toolchain = channel: key: dir:
          let
            drv = derivation {
              name = "rust-${channel}-${key}";
              inherit (final.stdenv.hostPlatform) system;
              builder = "/bin/bash";
              # The trap keeps the log pipe open until the builder is gone (see the nixpkgs stand-in).
              args = [ "-c" "trap '/bin/sleep 0.1 &' EXIT; /bin/ln -s ${dir} $out" ];
              outputs = [ "out" ];
            };
          in
          drv // { override = _: drv; };
        channel = name: builtins.mapAttrs (key: dir: { default = toolchain name key dir; }) (host.toolchains.${name} or { });
      in
      {
        rust-bin = {
          nightly = channel "nightly";
          stable = channel "stable";
          beta = channel "beta";
        };
      };
  };
}
