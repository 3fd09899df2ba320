/**
 * `hotgen dev --no-watch` under a continuous loopback load across 20 reloads and 2
 * restarts (zero failed or refused requests), then `hotgen dev --no-build` picking up a
 * build made elsewhere by content hashes. One copy of examples/server, sessions in turn.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../../common/exec.js';
import { readPlan } from '../../common/plan-read.js';
import { resolveToolchain } from '../../loader/build.js';
import { prepareHotBuild, runHotBuild } from '../../loader/hotbuild.js';
import { sendControl } from '../../loader/control.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';
import { cli, Dev, exampleReady, quitAllDevs, get, initExample, loadClient, toolchainEnv } from './fixtures/dev-session.js';

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !exampleReady)('hotgen dev modes on the example server', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let port: number;
  let dev: Dev | undefined;
  const env = () => ({ HOTGEN_EXAMPLE_STORE: path.join(root, 'store.log'), ...toolchainEnv() });
  const edit = async (rel: string, re: RegExp, to: string) => {
    const f = path.join(root, rel);
    const text = await readFile(f, 'utf8');
    expect(text).toMatch(re);
    await writeFile(f, text.replace(re, to));
  };

  beforeAll(async () => {
    dir = await tempDir('e2e-modes');
    const made = await initExample(dir.path);
    ({ root, port } = made);
    expect(made.init.code, made.init.stderr).toBe(0);
  });

  // A failed test must not leave its session holding the port for the next one.
  afterEach(async () => {
    await quitAllDevs();
  });

  afterAll(async () => {
    await quitAllDevs();
    await dir?.[Symbol.asyncDispose]();
  });

  it('--no-watch: 20 reloads and 2 restarts under load, zero failed requests', async () => {
    dev = new Dev(root, ['--no-watch'], env());
    await dev.waitEvent((e) => e.event === 'start', 0);
    const client = loadClient(port, { clients: 3, pauseMs: 0 });
    let version = 1;
    let restarts = 0;
    for (let i = 1; i <= 22; i++) {
      if (i === 8 || i === 16) {
        restarts++;
        await edit('core/src/lib.rs', /"core v\d+"/, `"core v${restarts + 1}"`);
        const r = await sendControl(root, { op: 'reload' });
        expect(r).toMatchObject({ ok: true, report: { kind: 'restart', reason: 'app_core changed' } });
        expect((await get(port, '/version')).body).toContain(`core v${restarts + 1}`);
        continue;
      }
      version++;
      await edit('api/src/lib.rs', /hello from api v\d+/, `hello from api v${version}`);
      if (i === 1) {
        // Without the watcher nothing happens until asked.
        await new Promise((r) => setTimeout(r, 1000));
        expect((await get(port, '/hello')).body).toBe('hello from api v1\n');
      }
      const r = await sendControl(root, { op: 'reload' });
      expect(r).toMatchObject({ ok: true, report: { kind: 'reload', modules: ['app_api', 'app_router'], unloaded: ['app_router', 'app_api'] } });
      expect((await get(port, '/hello')).body).toBe(`hello from api v${version}\n`);
    }
    await client.end();
    expect(client.failures).toEqual([]);
    expect(client.ok()).toBeGreaterThan(100);
    expect(dev.events.filter((e) => e.event === 'reload')).toHaveLength(20);
    expect(dev.events.filter((e) => e.event === 'restart')).toHaveLength(2);
    // Snapshots of unmapped generations are removed as the session goes (just after each report).
    const gens = async () => (await readdir(path.join(root, '.hotgen'))).filter((n) => /^gen-\d+$/.test(n));
    for (let i = 0; i < 50 && (await gens()).length > 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await gens()).length).toBeLessThanOrEqual(3);
    expect(await dev.quit()).toBe(0);
    expect((await readdir(path.join(root, '.hotgen'))).filter((n) => /^gen-\d+$/.test(n))).toEqual([]);
  });

  it('--no-build: picks up a hot build made elsewhere through the output hashes', async () => {
    dev = new Dev(root, ['--no-build'], env());
    await dev.waitEvent((e) => e.event === 'start', 0);
    expect(dev.stderr).not.toMatch(/Compiling|Finished/);
    const before = (await get(port, '/hello')).body;
    await edit('api/src/lib.rs', /hello from api v\d+/, 'hello from api built-elsewhere');
    const mark = dev.events.length;
    // Another process runs the same hot build (the wrapper, its target directory).
    const plan = await readPlan(root);
    const tc = toolchainEnv().HOTGEN_TOOLCHAIN;
    const toolchain = await resolveToolchain(tc ? { ...plan, toolchain: tc } : plan, root);
    const hot = await prepareHotBuild({ root, plan, plus: toolchain.plus, env: toolchain.env });
    const built = await runHotBuild({ root, plan, hot, toolchain, onStderr: () => undefined });
    expect(built.errors).toBe('');
    expect([...built.rebuilt].sort()).toEqual(['app_api', 'app_router']);
    const ev = await dev.waitEvent((e) => ['reload', 'restart', 'unchanged', 'reload-failed'].includes(e.event), mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    expect(ev.buildMs).toBeUndefined();
    expect(before).not.toBe('hello from api built-elsewhere\n');
    expect((await get(port, '/hello')).body).toBe('hello from api built-elsewhere\n');
    // The watcher only waits for a quiet second, so on a busy machine it may fire between
    // the api's and the router's file: then one more cycle takes the router. After that,
    // nothing is left to reload.
    let settled = await sendControl(root, { op: 'reload' });
    if (settled.report?.kind === 'reload') {
      expect(settled.report).toMatchObject({ modules: ['app_router'] });
      settled = await sendControl(root, { op: 'reload' });
    }
    expect(settled).toMatchObject({ ok: true, report: { kind: 'none' } });
    // A deleted output: a clear message naming it, and the running generation keeps serving.
    const api = built.modules.find((m) => m.name === 'app_api')!.source;
    expect(path.relative(root, api)).toMatch(/^target\/hotgen\/hot\/deps\/libapp_api-[0-9a-f]{16}\.so$/);
    await rm(api);
    const gone = await sendControl(root, { op: 'reload' });
    expect(gone).toMatchObject({ ok: false, report: { kind: 'error', message: `no build has produced ${path.relative(root, api)}; what runs keeps running` } });
    expect((await get(port, '/hello')).body).toBe('hello from api built-elsewhere\n');
    expect(await dev.quit()).toBe(0);
  });

  it.skipIf(skipUnless(missingTool('python3')))('on a terminal: CTRL+C reloads and CTRL+\\ quits (terminal signals), and the terminal is left as it was', async () => {
    // python's pty gives hotgen a real terminal; it types the keys once the expected lines appear.
    const driver = [
      'import os, pty, select, sys, time, json, termios',
      'pid, fd = pty.fork()',
      'if pid == 0:',
      '    os.execv(sys.argv[1], sys.argv[1:])',
      'out = b""',
      'def until(pat, t=120):',
      '    global out',
      '    end = time.time() + t',
      '    while pat.encode() not in out and time.time() < end:',
      '        r, _, _ = select.select([fd], [], [], 0.2)',
      '        if r:',
      '            try: out += os.read(fd, 65536)',
      '            except OSError: return',
      'until("started ")',
      'os.write(fd, b"\\x03")',
      'until("nothing changed")',
      'os.write(fd, b"\\x1c")',
      'until("hotgen dev: stopped")',
      'until("\\0", 3)',
      'lflag = termios.tcgetattr(fd)[3]',
      'restored = bool(lflag & termios.ICANON) and bool(lflag & termios.ISIG)',
      '_, st = os.waitpid(pid, 0)',
      'print(json.dumps({"out": out.decode(errors="replace"), "code": os.waitstatus_to_exitcode(st), "restored": restored}))',
    ].join('\n');
    const r = await run('python3', ['-c', driver, process.execPath, cli, 'dev', '--no-watch'], { cwd: root, env: { ...process.env, ...env() }, timeoutMs: 300_000 });
    const { out, code, restored } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out).toContain('CTRL+C reloads, CTRL+\\ quits');
    expect(out).toMatch(/started 5 modules/);
    expect(out).toMatch(/nothing changed; build \d+\.\d s/);
    expect(out).toContain('hotgen dev: stopped');
    expect(code).toBe(0);
    expect(restored).toBe(true);
  });
});
