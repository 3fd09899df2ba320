# The stand-in's stdenv.mkDerivation builder (tests only): nixpkgs' generic builder
# (pkgs/stdenv/generic/setup.sh) reduced to what hotgen's generated check uses. Each
# nativeBuildInput's bin/ goes on PATH (first one first) and its nix-support/setup-hook is
# sourced; then, in $NIX_BUILD_TOP: `src` is copied to a writable dir named after it
# without the store hash, the postUnpack hooks run there, the build moves into the copy,
# the postPatch hooks run, then buildPhase and installPhase. Hooks are registered as
# nixpkgs' are (`postUnpackHooks+=(fn)`) and run with `runHook NAME`.
set -eu

postUnpackHooks=()
postPatchHooks=()

# Runs the functions in the array `<name>Hooks`, then the shell code in `$<name>`.
runHook() {
  local name=$1 fn
  local -n hooks="${name}Hooks"
  for fn in ${hooks[@]+"${hooks[@]}"}; do "$fn"; done
  if [ -n "${!name-}" ]; then eval "${!name}"; fi
}

# A store path's name without its hash: /nix/store/<32 chars>-name -> name.
stripHash() {
  local base
  base=$(basename "$1")
  if [[ $base =~ ^[0-9a-z]{32}- ]]; then echo "${base:33}"; else echo "$base"; fi
}

# Copies a directory source into the current directory (tarballs are not needed here).
unpackFile() {
  cp -r -- "$1" "$(stripHash "$1")"
}

# substitute IN OUT --subst-var-by NAME VALUE ...: @NAME@ in IN replaced by VALUE.
substitute() {
  local in=$1 out=$2 content
  shift 2
  content=$(<"$in")
  while [ $# -gt 0 ]; do
    [ "$1" = --subst-var-by ] || { echo "stand-in substitute: unsupported $1" >&2; exit 1; }
    content=${content//@$2@/$3}
    shift 3
  done
  printf '%s\n' "$content" >"$out"
}

searchPath=
for input in $nativeBuildInputs; do
  searchPath=${searchPath:+$searchPath:}$input/bin
done
export PATH=${searchPath:+$searchPath:}$PATH
for input in $nativeBuildInputs; do
  if [ -f "$input/nix-support/setup-hook" ]; then source "$input/nix-support/setup-hook"; fi
done

cd "$NIX_BUILD_TOP"
unpackFile "$src"
sourceRoot=$(stripHash "$src")
chmod -R u+w -- "$sourceRoot"
runHook postUnpack
cd "$sourceRoot"
runHook postPatch
eval "$buildPhase"
eval "$installPhase"
