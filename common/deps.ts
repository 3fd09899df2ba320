/**
 * Every pure-JavaScript third-party import goes through this module, so a library can
 * be swapped in one place. The FFI (koffi, native code) sits alone in `ffi.ts`: the
 * host and each generation thread import only that, since loading these modules costs
 * ~85 ms per thread and slows every Worker's teardown (measured by the host work).
 */
import Handlebars from 'handlebars';
import YAML from 'yaml';
import { parse as parseToml } from 'toml';
import chokidar from 'chokidar';
import { createTwoFilesPatch } from 'diff';

export { Handlebars, YAML, parseToml, chokidar, createTwoFilesPatch };
