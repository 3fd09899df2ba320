/**
 * Where a `hotgen dev` session answers (`<root>/.hotgen/control.sock`) and whether it is
 * up: shared by the loader (which serves the socket, loader/control.ts) and the
 * generator (eject refuses while a session runs).
 */
import net from 'node:net';
import path from 'node:path';
import { STATE_DIR } from './layout.js';

/** The control socket path for a workspace root. */
export function controlSocketPath(root: string): string {
  return path.join(root, STATE_DIR, 'control.sock');
}

/**
 * Whether something listens on the unix socket `file`: a connect(2) that succeeds. A
 * missing file, a stale socket (ECONNREFUSED) or a non-socket does not count; no answer
 * within `timeoutMs` (ms) counts (something holds the socket).
 */
export function isListening(file: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    const done = (listening: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(listening);
    };
    const timer = setTimeout(() => done(true), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
