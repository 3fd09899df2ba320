/**
 * The FFI library (koffi), alone in its own module: the supervisor must stay plain Node
 * and never load it, and the host's generation threads must not pay for the other
 * third-party modules.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The koffi module, loaded on first use (host process, generation threads and tests). */
export function koffi(): typeof import('koffi') {
  return require('koffi');
}
