/**
 * Tool-gated tests. A test that needs a missing tool is skipped with the reason; with
 * `HOTGEN_REQUIRE_TOOLS=1` (set by `.ci/run`) a missing tool fails the test instead.
 */
import { execFileSync } from 'node:child_process';

const cache = new Map<string, string | undefined>();

/** Why `cmd` cannot run here (undefined when it can). `args` is a cheap probe command. */
export function missingTool(cmd: string, args: string[] = ['--version']): string | undefined {
  const key = [cmd, ...args].join(' ');
  if (!cache.has(key)) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
      cache.set(key, undefined);
    } catch (err) {
      cache.set(key, `\`${key}\` failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return cache.get(key);
}

/**
 * Use as `it.skipIf(skipUnless(...))(...)` / `describe.skipIf(...)`: returns true (skip) when a
 * tool is missing, printing the reason; throws instead when HOTGEN_REQUIRE_TOOLS=1.
 */
export function skipUnless(...reasons: (string | undefined)[]): boolean {
  const missing = reasons.filter(Boolean) as string[];
  if (missing.length === 0) return false;
  const msg = `skipped: ${missing.join('; ')}`;
  if (process.env.HOTGEN_REQUIRE_TOOLS === '1') throw new Error(`required tool missing (HOTGEN_REQUIRE_TOOLS=1): ${msg}`);
  console.warn(msg);
  return true;
}

/** Common probes. */
export const tools = {
  nightly: () => missingTool('cargo', ['+nightly', '--version']),
  cargo: () => missingTool('cargo', ['--version']),
  mold: () => missingTool('mold', ['--version']),
  lld: () => missingTool('ld.lld', ['--version']),
  nix: () => missingTool('nix', ['--version']),
  readelf: () => missingTool('readelf', ['--version']),
  clang: () => missingTool('clang', ['--version']),
};
