/**
 * Every third-party import goes through this module, so a library can be swapped in
 * one place. koffi is native code and is loaded lazily: the supervisor process must
 * stay plain Node and never import it.
 */
import { createRequire } from 'node:module';
import Handlebars from 'handlebars';
import YAML from 'yaml';
import { parse as parseToml } from 'toml';
import * as tomlPatch from '@decimalturn/toml-patch';
import chokidar from 'chokidar';

export { Handlebars, YAML, parseToml, tomlPatch, chokidar };

const require = createRequire(import.meta.url);

/** The koffi FFI module, loaded on first use (host process and tests only). */
export function koffi(): typeof import('koffi') {
  return require('koffi');
}
