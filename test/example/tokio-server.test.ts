/**
 * The tokio example (examples/tokio-server): built from Debian's packaged crate
 * sources, run as a static binary, then reloaded in the mini-host with the runtime
 * owned by the frozen crate. Needs `apt-get install librust-tokio-dev`.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { TOKIO_EXAMPLE_DIR, buildStatic, copyExample, request, startServer } from './helpers.js';
import { TOKIO_LAYOUT, applyHotSetup, buildHot, buildMiniHost, startMiniHost } from './hot.js';

/** Cargo.lock pins tokio 1.24.2, the version Debian bookworm packages. */
const debianTokio = () =>
  existsSync('/usr/share/cargo/registry/tokio-1.24.2/Cargo.toml')
    ? undefined
    : 'Debian tokio 1.24.2 sources missing (apt-get install librust-tokio-dev)';

const TK_LIBS = ['tk_core', 'tk_api', 'tk_router'];

describe('example tokio server', () => {
  it.skipIf(skipUnless(tools.cargo(), debianTokio()))('serves as a static binary and stops on SIGTERM', async () => {
    await using target = await tempDir('tokio-target');
    const bin = await buildStatic(target.path, TOKIO_EXAMPLE_DIR, 'tk_server');
    await using server = await startServer(bin, {});
    expect((await request(server.addr, 'GET', '/hello')).body).toBe('hello from tokio api v1\n');
    expect((await request(server.addr, 'PUT', '/kv/a', { body: 'b' })).status).toBe(200);
    expect((await request(server.addr, 'GET', '/kv/a')).body).toBe('b');
    expect((await request(server.addr, 'GET', '/panic')).status).toBe(500);
    const slow = request(server.addr, 'GET', '/sleep');
    expect((await request(server.addr, 'GET', '/count')).status).toBe(200);
    server.child.kill('SIGTERM');
    expect((await slow).body).toBe('slept 300 ms\n');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it.skipIf(skipUnless(tools.nightly(), tools.mold(), tools.clang(), debianTokio()))(
    'reloads api and router while the runtime in the frozen core keeps running',
    async () => {
      await using ws = await tempDir('tokio-hot');
      await copyExample(ws.path, TOKIO_EXAMPLE_DIR);
      const ex = await applyHotSetup(ws.path, TOKIO_LAYOUT);
      let built = await buildHot(ex);
      expect(built.rebuilt).toEqual([...TK_LIBS].sort());
      // tokio and its dependencies are dylibs of their own, below the workspace crates.
      const registry = built.registry.map((m) => m.name.replace(/-[0-9a-f]{16}$/, ''));
      expect(registry).toEqual(expect.arrayContaining(['tokio', 'mio', 'libc']));
      const at = (re: RegExp) => built.modules.findIndex((m) => re.test(m.name));
      expect(at(/^tokio-[0-9a-f]{16}$/)).toBeGreaterThanOrEqual(0);
      expect(at(/^tokio-[0-9a-f]{16}$/)).toBeLessThan(at(/^tk_core$/));
      const host = await buildMiniHost(path.join(ws.path, 'mini-host'));
      await using h = await startMiniHost(host, { ...process.env, LD_LIBRARY_PATH: ex.toolchain.libstdDir });
      const lib = (n: string) => built.lib(n);
      // As the host does: registry dylibs first, once, global; they are never unloaded.
      const registrySources = built.registry.map((m) => m.source);
      for (const m of built.registry) expect(await h.command(`load ${m.source} global`)).toBe('ok');
      for (const n of TK_LIBS) expect(await h.command(`load ${lib(n)} ${n === 'tk_router' ? 'local' : 'global'}`)).toBe('ok');
      expect(await h.command('run 1')).toBe('ok');
      expect((await request(h.addr, 'GET', '/hello')).body).toBe('hello from tokio api v1\n');
      await request(h.addr, 'PUT', '/kv/kept', { body: 'yes' });
      expect((await request(h.addr, 'GET', '/panic')).status).toBe(500);

      const src = path.join(ws.path, 'api', 'src', 'lib.rs');
      await writeFile(src, (await readFile(src, 'utf8')).replace('tokio api v1', 'tokio api v2'));
      built = await buildHot(ex);
      expect(built.rebuilt).toEqual(['tk_api', 'tk_router']);
      expect(built.registry.map((m) => m.source)).toEqual(registrySources);
      // A request in flight when stop arrives is answered before hotgen_main returns.
      const slow = request(h.addr, 'GET', '/sleep');
      // Three requests so far; each /count poll adds one, the sleep one more once it is in flight.
      for (let polls = 1; ; polls++) {
        const n = Number((await request(h.addr, 'GET', '/count')).body);
        if (n === 3 + polls + 1) break;
        expect(n).toBe(3 + polls);
      }
      expect(await h.command('stop')).toBe('stopped 0');
      expect((await slow).body).toBe('slept 300 ms\n');
      expect(await h.command(`unload ${lib('tk_router')}`)).toBe('unloaded');
      expect(await h.command(`unload ${lib('tk_api')}`)).toBe('unloaded');
      expect(await h.command(`load ${lib('tk_api')} global`)).toBe('ok');
      expect(await h.command(`load ${lib('tk_router')} local`)).toBe('ok');
      expect(await h.command('run 2')).toBe('ok');
      expect((await request(h.addr, 'GET', '/hello')).body).toBe('hello from tokio api v2\n');
      expect((await request(h.addr, 'GET', '/kv/kept')).body).toBe('yes');

      expect(await h.command('stop')).toBe('stopped 0');
      expect(await h.command(`unload ${lib('tk_router')}`)).toBe('unloaded');
      expect(await h.command(`unload ${lib('tk_api')}`)).toBe('unloaded');
      expect(await h.command(`unload ${lib('tk_core')}`)).toBe('mapped');
      void h.command('quit').catch(() => {});
      expect(await h.exited).toEqual({ code: 0, signal: null });
    },
  );
});
