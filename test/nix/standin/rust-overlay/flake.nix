# Offline stand-in for oxalica/rust-overlay (tests only): `overlays.default` adds
# `rust-bin.<channel>.<date|version|latest>.default`, each a derivation whose output is a
# symlink to a toolchain rustup installed on this machine (see host.nix, written by
# test/nix/nixenv.ts), and `rust-bin.fromRustupToolchainFile` as the real overlay has it
# (lib/rust-bin.nix): a rustup toolchain file (TOML, or the legacy one-line form) whose
# `toolchain.channel` is `nightly-YYYY-MM-DD` (nightly.<date>), `beta-YYYY-MM-DD`,
# a version such as `1.95.0` (stable.<version>), or a bare `stable`/`nightly`/`beta`
# (the newest that channel offers here). `.override { extensions = ...; }` returns the
# same toolchain; `components` and `profile` in the file are accepted and ignored.
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
        # The newest key: dates sort as strings, versions with builtins.compareVersions.
        newest = keys: builtins.head (builtins.sort (a: b: builtins.compareVersions a b > 0) keys);
        channel = name:
          let
            byKey = builtins.mapAttrs (key: dir: { default = toolchain name key dir; }) (host.toolchains.${name} or { });
            keys = builtins.attrNames byKey;
          in
          byKey // (if keys == [ ] then { } else { latest = byKey.${newest keys}; });
        rust-bin = {
          nightly = channel "nightly";
          stable = channel "stable";
          beta = channel "beta";
        };
        pick = chan: key:
          if rust-bin.${chan} ? ${key} then rust-bin.${chan}.${key}.default
          else throw "rust-overlay stand-in: no ${chan} toolchain `${key}` (has: ${builtins.concatStringsSep ", " (builtins.attrNames rust-bin.${chan})})";
        fromChannel = spec:
          let
            dated = builtins.match "(nightly|beta)-([0-9]{4}-[0-9]{2}-[0-9]{2})" spec;
            version = builtins.match "[0-9]+\\.[0-9]+(\\.[0-9]+)?" spec;
          in
          if dated != null then pick (builtins.elemAt dated 0) (builtins.elemAt dated 1)
          else if version != null then pick "stable" spec
          else if builtins.elem spec [ "stable" "nightly" "beta" ] then pick spec "latest"
          else throw "rust-overlay stand-in: unsupported toolchain channel `${spec}`";
        fromRustupToolchainFile = path:
          let
            content = builtins.readFile path;
            legacy = builtins.match "([^\r\n]+)\r?\n?" content;
          in
          if legacy != null then fromChannel (builtins.head legacy)
          else fromChannel (builtins.fromTOML content).toolchain.channel;
      in
      {
        rust-bin = rust-bin // { inherit fromRustupToolchainFile; };
      };
  };
}
