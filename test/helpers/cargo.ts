/** Cargo fixture pieces shared by the loader's build tests. */
import { existsSync, readdirSync } from 'node:fs';

/** Debian's packaged crate sources (a directory source: no network). */
export const DEBIAN_REGISTRY = '/usr/share/cargo/registry';

/** `.cargo/config.toml` that replaces crates.io with {@link DEBIAN_REGISTRY}. */
export const DEBIAN_SOURCE_CONFIG = `[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\ndirectory = "${DEBIAN_REGISTRY}"\n`;

/** What `hotgen init` writes for the `hot` profile (templates/cargo-config.toml.hbs). */
export const HOT_PROFILE_CONFIG = '[profile.hot]\ninherits = "dev"\n';

/**
 * A plain package manifest, as `hotgen init` leaves it (no crate-type, no profile: the
 * rustc wrapper makes the dylibs); `deps` are `[dependencies]` lines.
 */
export const plainManifest = (name: string, deps: string[]): string =>
  `[package]\nname = "${name}"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n` + deps.map((d) => `${d}\n`).join('');

/** Why Debian's `memchr` 2 sources are unavailable (undefined when they are there): a reason for `skipUnless`. */
export const debianMemchr = (): string | undefined =>
  existsSync(DEBIAN_REGISTRY) && readdirSync(DEBIAN_REGISTRY).some((d) => d.startsWith('memchr-2.')) ? undefined : `no memchr 2 in ${DEBIAN_REGISTRY} (apt-get install librust-memchr-dev)`;
