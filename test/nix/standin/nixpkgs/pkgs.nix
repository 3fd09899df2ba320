# The stand-in packages. Every derivation uses /bin/bash as builder and one `out`
# output, which is what `nix develop` (Nix 2.8) needs; PATH gives the host's coreutils.
{ lib, host, system, final }:
let
  rustcTarget = { x86_64-linux = "x86_64-unknown-linux-gnu"; aarch64-linux = "aarch64-unknown-linux-gnu"; }.${system};
  bash = "/bin/bash";
  hostPath = "/usr/bin:/bin";
  # Nix SIGKILLs a builder as soon as its log pipe reaches EOF; a builder that has closed
  # its fds but not yet exited then "fails due to signal 9" (seen with Nix 2.8 on fast
  # builders). A background sleep keeps the pipe open until the builder is surely gone.
  holdLog = "trap '/bin/sleep 0.1 &' EXIT\n";
  drv = name: script: attrs: derivation ({
    inherit name system;
    builder = bash;
    args = [ "-e" "-c" (holdLog + script) ];
    outputs = [ "out" ];
    PATH = hostPath;
  } // attrs);
  # A package whose bin/ holds symlinks to host tools: { "ld.mold" = "/usr/bin/ld.mold"; }.
  hostTool = name: bins: drv name (''
    mkdir -p "$out/bin"
  '' + builtins.concatStringsSep "" (builtins.attrValues (builtins.mapAttrs (bin: target: ''
    ln -s "${target}" "$out/bin/${bin}"
  '') bins))) { };
in
builtins.mapAttrs hostTool (host.extraPackages or { }) // {
  inherit lib;
  stdenv = {
    hostPlatform = {
      inherit system;
      rust.rustcTarget = rustcTarget;
    };
    # Like nixpkgs' stdenv.mkDerivation with its phases, reduced (see stdenv-setup.sh): the
    # setup hooks of nativeBuildInputs, postUnpack/postPatch hooks, buildPhase, installPhase.
    mkDerivation = { name, src, nativeBuildInputs ? [ ], buildPhase ? "", installPhase ? "", ... }@args:
      drv name ''
        source ${./stdenv-setup.sh}
      '' (builtins.removeAttrs args [ "name" ] // {
        nativeBuildInputs = builtins.concatStringsSep " " (map toString nativeBuildInputs);
        inherit buildPhase installPhase;
      });
  };

  clang = hostTool "clang" { clang = host.clang; };
  mold = hostTool "mold" { mold = host.mold; "ld.mold" = host.mold; };
  lld = hostTool "lld" { "ld.lld" = host.lld; };
  bashInteractive = hostTool "bash-interactive" { bash = "/bin/bash"; };
  # `formatter` of the generated flake: evaluated by `nix flake check`, never run here.
  nixfmt-tree = hostTool "nixfmt-tree" { };

  writeShellScriptBin = name: text: drv name ''
    mkdir -p "$out/bin"
    printf '%s\n' '#!/bin/bash' "$text" > "$out/bin/${name}"
    chmod +x "$out/bin/${name}"
  '' { inherit text; };

  # Like nixpkgs' runCommand: `script` runs with nativeBuildInputs' bin dirs on PATH.
  runCommand = name: env: script: drv name script (builtins.removeAttrs env [ "nativeBuildInputs" ] // {
    PATH = lib.makeBinPath (env.nativeBuildInputs or [ ]) + ":" + hostPath;
  });

  # Like nixpkgs' importNpmLock (pkgs/build-support/node/import-npm-lock): a functor
  # over { npmRoot, package, packageLock, ... } with `.npmConfigHook`, reading both JSON
  # files at evaluation. The real one fetches every lock entry with
  # `fetchurl { url = resolved; hash = integrity; }` and leaves an entry without
  # `resolved` to npm, which then fails inside the offline build sandbox. This stand-in
  # fails such an entry at evaluation instead, so `nix flake check --no-build` sees it.
  importNpmLock = {
    __functor = _: { npmRoot ? null
      , package ? builtins.fromJSON (builtins.readFile (npmRoot + "/package.json"))
      , packageLock ? builtins.fromJSON (builtins.readFile (npmRoot + "/package-lock.json"))
      , pname ? package.name or "unknown"
      , version ? package.version or "0.0.0"
      , ... }:
      let
        fetchable = key: m:
          key == "" || m.link or false || m.inBundle or false
          || (m ? resolved && (builtins.match "https?://.*" m.resolved == null || m ? integrity));
        bad = builtins.filter (key: !fetchable key packageLock.packages.${key}) (builtins.attrNames packageLock.packages);
      in
      if packageLock.lockfileVersion or 1 < 2 then throw "importNpmLock: package-lock.json needs lockfileVersion 2 or 3"
      else if bad != [ ] then throw "importNpmLock: no fetchable `resolved` URL with `integrity` for ${builtins.head bad} (and ${toString (builtins.length bad - 1)} more)"
      else drv "${pname}-${version}-sources" ''
        mkdir -p "$out"
        cp "$packageJSONPath" "$out/package.json"
        cp "$packageLockJSONPath" "$out/package-lock.json"
      '' {
        packageJSON = builtins.toJSON package;
        packageLockJSON = builtins.toJSON packageLock;
        passAsFile = [ "packageJSON" "packageLockJSON" ];
      };
    npmConfigHook = drv "npm-config-hook" ''mkdir -p "$out"'' { };
  };

  # Like nixpkgs' buildNpmPackage, for evaluation: the same arguments and a derivation
  # named pname-version with `meta`. Its builder fails: building an npm package needs the
  # real hooks and the fetched dependencies.
  buildNpmPackage = { pname, version, src, npmDeps, nodejs ? final.nodejs_20, npmConfigHook ? null, meta ? { }, ... }:
    drv "${pname}-${version}" ''
      echo "stand-in buildNpmPackage cannot build npm packages offline" >&2
      exit 1
    '' {
      inherit src npmDeps;
      nativeBuildInputs = [ nodejs ] ++ lib.optionals (npmConfigHook != null) [ npmConfigHook ];
    } // { inherit meta pname version; };

  # Like nixpkgs' rustPlatform.cargoSetupHook (pkgs/build-support/rust/hooks: a setup hook
  # whose postUnpack hook copies `$cargoDeps` into the build dir under its name without the
  # store hash, appends its .cargo/config.toml, with @vendor@ replaced by the copy's path,
  # and a [target.<triple>] table to .cargo/config.toml in the build dir, and whose
  # postPatch hook fails when the source's Cargo.lock differs from the vendored one).
  # Cargo finds that config by walking up from the source dir; importCargoLock's
  # `directory = "cargo-vendor-dir"` is relative to the build dir, where the copy is.
  rustPlatform.cargoSetupHook = drv "cargo-setup-hook.sh" ''
    mkdir -p "$out/nix-support"
    printf '%s\n' "$hook" > "$out/nix-support/setup-hook"
  '' {
    hook = ''
      hotgenStandinCargoSetupPostUnpack() {
        local dest
        dest=$(stripHash "$cargoDeps")
        cp -rL -- "$cargoDeps" "$dest"
        chmod -R u+w -- "$dest"
        cargoDepsCopy=$(realpath "$dest")
        mkdir -p .cargo
        local config="$cargoDepsCopy/.cargo/config.toml"
        local tmp
        tmp=$(mktemp)
        substitute "$config" "$tmp" --subst-var-by vendor "$cargoDepsCopy"
        cat "$tmp" >> .cargo/config.toml
        printf '%s\n' '[target."${rustcTarget}"]' '"linker" = "cc"' '"rustflags" = [ "-C", "target-feature=-crt-static" ]' >> .cargo/config.toml
      }
      hotgenStandinCargoSetupPostPatch() {
        if ! diff "$PWD/Cargo.lock" "$cargoDepsCopy/Cargo.lock"; then
          echo "ERROR: Cargo.lock is not the same in $cargoDepsCopy" >&2
          exit 1
        fi
      }
      postUnpackHooks+=(hotgenStandinCargoSetupPostUnpack)
      postPatchHooks+=(hotgenStandinCargoSetupPostPatch)
    '';
  };

  # Like nixpkgs' rustPlatform.importCargoLock (pkgs/build-support/rust/import-cargo-lock.nix):
  # a dir with one `<name>-<version>` crate per Cargo.lock package that has a `source`, each
  # with a .cargo-checksum.json of the lock's checksum, plus Cargo.lock and a
  # .cargo/config.toml whose vendor `directory` is "cargo-vendor-dir" for the user to
  # resolve. The real one fetches each crates.io crate with fetchurl, the lock's checksum
  # as its hash. Offline, this one copies the unpacked crate from a local registry dir
  # (Debian's /usr/share/cargo/registry, or host.cargoRegistry) and fails the build just
  # as a hash mismatch would when the `package` checksum in that crate's
  # .cargo-checksum.json differs. A git source without an outputHashes entry fails at
  # evaluation with nixpkgs' message; with one, it cannot be fetched offline.
  rustPlatform.importCargoLock = { lockFile ? null, lockFileContents ? null, outputHashes ? { }, ... }:
    let
      lock = builtins.fromTOML (if lockFile != null then builtins.readFile lockFile else lockFileContents);
      crate = p:
        let id = "${p.name}-${p.version}"; in
        if builtins.match "(registry|sparse)[+].*" p.source != null then
          "${p.name} ${p.version} ${p.checksum or (throw "Package ${p.name} does not have a checksum.")}"
        else if builtins.match "git[+].*" p.source != null then
          if builtins.hasAttr id outputHashes then throw "stand-in importCargoLock: cannot fetch the git dependency ${id} offline"
          else throw ''
            No hash was found while vendoring the git dependency ${id}. You can add
            a hash through the `outputHashes` argument of `importCargoLock`:

            outputHashes = {
              "${id}" = "<hash>";
            };
          ''
        else throw "Cannot handle crate source: ${p.source}";
    in
    drv "cargo-vendor-dir" ''
      mkdir -p "$out/.cargo"
      if [ -n "$lockFile" ]; then ln -s "$lockFile" "$out/Cargo.lock"; else printf '%s' "$lockFileContents" > "$out/Cargo.lock"; fi
      printf '%s\n' '[source.crates-io]' 'replace-with = "vendored-sources"' "" '[source.vendored-sources]' 'directory = "cargo-vendor-dir"' > "$out/.cargo/config.toml"
      while read -r name version checksum; do
        [ -n "$name" ] || continue
        from="$registry/$name-$version"
        got=$(sed -n 's/.*"package": *"\([0-9a-f]*\)".*/\1/p' "$from/.cargo-checksum.json" 2>/dev/null || true)
        if [ "$got" != "$checksum" ]; then
          echo "hash mismatch for crate-$name-$version.tar.gz: Cargo.lock has $checksum, $from has '$got'" >&2
          exit 1
        fi
        cp -r "$from" "$out/$name-$version"
        chmod -R u+w "$out/$name-$version"
        printf '{"files":{},"package":"%s"}' "$checksum" > "$out/$name-$version/.cargo-checksum.json"
      done <<< "$crates"
    '' {
      lockFile = if lockFile != null then "${lockFile}" else "";
      lockFileContents = if lockFileContents != null then lockFileContents else "";
      registry = host.cargoRegistry or "/usr/share/cargo/registry";
      crates = builtins.concatStringsSep "\n" (map crate (builtins.filter (p: p ? source) (lock.package or [ ])));
    };

  # Like nixpkgs' mkShell: `nix develop` prepends the derivation's PATH to the user's.
  # `nix develop` runs its get-env.sh with this derivation's builder and sources
  # `$stdenv/setup` first, which here only holds the log pipe open (see holdLog).
  mkShell = { packages ? [ ], nativeBuildInputs ? [ ], buildInputs ? [ ], ... }@args:
    drv "nix-shell" ''echo "$PATH" > "$out"'' (builtins.removeAttrs args [ "packages" "nativeBuildInputs" "buildInputs" ] // {
    PATH = lib.makeBinPath (packages ++ nativeBuildInputs ++ buildInputs);
    stdenv = drv "stdenv" ''
      mkdir -p "$out"
      printf '%s' "$setup" > "$out/setup"
    '' { setup = holdLog; };
  });
}
