# The stand-in packages. Every derivation uses /bin/bash as builder and one `out`
# output, which is what `nix develop` (Nix 2.8) needs; PATH gives the host's coreutils.
{ lib, host, system, final }:
let
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
  stdenv.hostPlatform = {
    inherit system;
    rust.rustcTarget = { x86_64-linux = "x86_64-unknown-linux-gnu"; aarch64-linux = "aarch64-unknown-linux-gnu"; }.${system};
  };

  clang = hostTool "clang" { clang = host.clang; };
  mold = hostTool "mold" { mold = host.mold; "ld.mold" = host.mold; };
  lld = hostTool "lld" { "ld.lld" = host.lld; };
  bashInteractive = hostTool "bash-interactive" { bash = "/bin/bash"; };

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
