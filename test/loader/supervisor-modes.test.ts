/**
 * `hotgen dev --no-watch` under a continuous loopback load across 20 reloads and 2
 * restarts (zero failed or refused requests), then `hotgen dev --no-build` picking up a
 * build made elsewhere by content hashes. One copy of examples/server, sessions in turn.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../common/exec.js';
import { sendControl } from '../../loader/control.js';
import { tempDir } from '../helpers/tree.js';
import { missingTool, skipUnless, tools } from '../helpers/tools.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
let cli = '';
const example = path.join(repo, 'examples/server');
const ready = existsSync(path.join(repo, 'loader/host.ts')) && existsSync(path.join(example, 'router/src/lib.rs'));
const toolchainEnv = () => (missingTool('cargo', ['+nightly-2026-05-19', '--version']) ? { HOTGEN_TOOLCHAIN: 'nightly' } : {});

type Ev = Record<string, unknown> & { event: string };

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent: false, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${p} timed out`)));
    req.on('error', reject);
  });
}

/** One `hotgen dev` process with its JSON events. */
class Dev {
  readonly events: Ev[] = [];
  stderr = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  constructor(root: string, flags: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [cli, 'dev', '--json', ...flags], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.exited = new Promise((r) => this.child.once('exit', (code) => r(code)));
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      const lines = (partial + c).split('\n');
      partial = lines.pop()!;
      for (const l of lines) if (l.trim()) this.events.push(JSON.parse(l));
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr = (this.stderr + c).slice(-20_000)));
  }
  async waitEvent(pred: (e: Ev) => boolean, from: number, timeoutMs = 240_000): Promise<Ev> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.events.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() - t0 > timeoutMs || this.child.exitCode !== null) {
        throw new Error(`no matching event (exit ${this.child.exitCode}); events: ${JSON.stringify(this.events.slice(from))}\nstderr:\n${this.stderr.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async quit(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

describe.skipIf(skipUnless(tools.nightly(), tools.mold()) || !ready)('hotgen dev modes on the example server', () => {
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
    cli = path.join(repo, 'dist/cli/hotgen.js');
    root = path.join(dir.path, 'server');
    await cp(example, root, { recursive: true, filter: (src) => !src.includes(`${path.sep}target`) });
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    port = (s.address() as net.AddressInfo).port;
    await new Promise((r) => s.close(r));
    const init = await run(process.execPath, [cli, 'init', '--entry', 'app_router', '--frozen', 'app_core', '--listen', `127.0.0.1:${port}`], { cwd: root, allowFailure: true });
    expect(init.code, init.stderr).toBe(0);
  });

  afterAll(async () => {
    await dev?.quit();
    await dir?.[Symbol.asyncDispose]();
  });

  it('--no-watch: 20 reloads and 2 restarts under load, zero failed requests', async () => {
    dev = new Dev(root, ['--no-watch'], env());
    await dev.waitEvent((e) => e.event === 'start', 0);
    const failures: string[] = [];
    let ok = 0;
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await get(port, '/health');
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const clients = [client(), client(), client()];
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
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(dev.events.filter((e) => e.event === 'reload')).toHaveLength(20);
    expect(dev.events.filter((e) => e.event === 'restart')).toHaveLength(2);
    // Snapshots of unmapped generations are removed as the session goes.
    const gens = (await readdir(path.join(root, '.hotgen'))).filter((n) => /^gen-\d+$/.test(n));
    expect(gens.length).toBeLessThanOrEqual(3);
    expect(await dev.quit()).toBe(0);
    expect((await readdir(path.join(root, '.hotgen'))).filter((n) => /^gen-\d+$/.test(n))).toEqual([]);
  });

  it('--no-build: picks up a build made elsewhere through the output hashes', async () => {
    dev = new Dev(root, ['--no-build'], env());
    await dev.waitEvent((e) => e.event === 'start', 0);
    expect(dev.stderr).not.toMatch(/Compiling|Finished/);
    const before = (await get(port, '/hello')).body;
    await edit('api/src/lib.rs', /hello from api v\d+/, 'hello from api built-elsewhere');
    const mark = dev.events.length;
    const tc = toolchainEnv().HOTGEN_TOOLCHAIN;
    await run('cargo', [...(tc ? [`+${tc}`] : []), 'build', '--profile', 'hot', '-p', 'app_router', '--lib'], { cwd: root });
    const ev = await dev.waitEvent((e) => ['reload', 'restart', 'unchanged', 'reload-failed'].includes(e.event), mark);
    expect(ev).toMatchObject({ event: 'reload', modules: ['app_api', 'app_router'] });
    expect(ev.buildMs).toBeUndefined();
    expect(before).not.toBe('hello from api built-elsewhere\n');
    expect((await get(port, '/hello')).body).toBe('hello from api built-elsewhere\n');
    expect(await sendControl(root, { op: 'reload' })).toMatchObject({ ok: true, report: { kind: 'none' } });
    // A deleted output: a clear message, and the running generation keeps serving.
    await rm(path.join(root, 'target/hot/libapp_api.so'));
    const gone = await sendControl(root, { op: 'reload' });
    expect(gone).toMatchObject({ ok: false, report: { kind: 'error', message: 'no build has produced target/hot/libapp_api.so; what runs keeps running' } });
    expect((await get(port, '/hello')).body).toBe('hello from api built-elsewhere\n');
    expect(await dev.quit()).toBe(0);
  });

  it.skipIf(skipUnless(missingTool('python3')))('on a terminal: CTRL+C reloads and CTRL+\\ quits (raw mode), and the terminal is restored', async () => {
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
