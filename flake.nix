# hotgen itself: `nix run . -- init` runs the CLI, `nix build` builds it from
# package-lock.json (no dependency hash to maintain), and `nix develop` is the
# environment for working on hotgen (Node 20, the pinned nightly Rust, mold, clang, nix).
{
  description = "hotgen: crate-level hot reloading for Cargo workspaces, in a reproducible Nix dev shell";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      rust-overlay,
    }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAll =
        f:
        nixpkgs.lib.genAttrs systems (
          system:
          f (
            import nixpkgs {
              inherit system;
              overlays = [ rust-overlay.overlays.default ];
            }
          )
        );

      package = builtins.fromJSON (builtins.readFile ./package.json);

      # npm leaves `resolved` out of the lock when configured with
      # omit-lockfile-registry-resolved (this repository's lock has none); importNpmLock
      # fetches only entries that have it.
      # Fill in the registry's tarball URL (the layout npm itself assumes); `integrity`
      # is in every entry and is the fetch's hash.
      lock = builtins.fromJSON (builtins.readFile ./package-lock.json);
      tarballUrl =
        key: module:
        let
          name = module.name or (builtins.head (builtins.match ".*node_modules/((@[^/]+/)?[^/]+)" key));
        in
        "https://registry.npmjs.org/${name}/-/${baseNameOf name}-${module.version}.tgz";
      packageLock = lock // {
        packages = builtins.mapAttrs (
          key: module:
          if key == "" || module ? resolved || module.link or false || module.inBundle or false then
            module
          else
            module // { resolved = tarballUrl key module; }
        ) lock.packages;
      };

      # The sources the build needs; build outputs and local state left out.
      src = builtins.path {
        name = "hotgen-source";
        path = ./.;
        filter =
          path: type:
          !(builtins.elem (baseNameOf path) [
            "node_modules"
            "dist"
            "target"
            ".hotgen"
            ".direnv"
            "result"
          ]);
      };

      # Node 20 (package.json engines: >=20.11). nixpkgs drops a Node line some time after
      # its end of life (20: April 2026), leaving an alias that throws; then the default
      # nodejs, which is newer, is used.
      nodejsFor =
        pkgs:
        let
          node20 = builtins.tryEval (pkgs.nodejs_20 or null);
        in
        if node20.success && node20.value != null then node20.value else pkgs.nodejs;

      hotgenFor =
        pkgs:
        pkgs.buildNpmPackage {
          pname = package.name;
          inherit (package) version;
          inherit src;
          nodejs = nodejsFor pkgs;
          npmDeps = pkgs.importNpmLock {
            npmRoot = ./.;
            inherit packageLock;
          };
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;
          # koffi's install script would build from source; its prebuilt binary comes from
          # an optional dependency (@koromix/koffi-<platform>) and needs no script.
          npmRebuildFlags = [ "--ignore-scripts" ];
          # dist/ is built by the build phase; prepack would build it again inside `npm pack`.
          npmPackFlags = [ "--ignore-scripts" ];
          meta = {
            inherit (package) description;
            mainProgram = "hotgen";
          };
        };

      # The nightly `hotgen init` pins by default, read from where it is written once:
      # DEFAULT_NIGHTLY in generator/plan.ts (.ci/setup reads it there too).
      defaultNightly =
        let
          date = builtins.match ".*export const DEFAULT_NIGHTLY = 'nightly-([0-9]{4}-[0-9]{2}-[0-9]{2})';.*" (
            builtins.readFile ./generator/plan.ts
          );
        in
        if date == null then
          throw "flake.nix: no DEFAULT_NIGHTLY = 'nightly-YYYY-MM-DD' in generator/plan.ts"
        else
          builtins.head date;
      nightlyFor =
        pkgs:
        pkgs.rust-bin.nightly.${defaultNightly}.default.override {
          extensions = [
            "rust-src"
            "rust-analyzer"
          ];
        };
    in
    {
      packages = forAll (pkgs: rec {
        hotgen = hotgenFor pkgs;
        default = hotgen;
      });

      apps = forAll (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.stdenv.hostPlatform.system}.default}/bin/hotgen";
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            (nodejsFor pkgs)
            (nightlyFor pkgs)
            pkgs.mold
            pkgs.clang
            pkgs.nix
          ];
        };
      });

      checks = forAll (pkgs: {
        build = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
      });

      # `nix fmt`: nixfmt (RFC 166 style) over the repository's Nix files.
      formatter = forAll (pkgs: pkgs.nixfmt-tree);
    };
}
