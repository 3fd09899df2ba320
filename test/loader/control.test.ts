import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmod, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { controlSocketPath, sendControl, startControlServer, type ControlHandler, type SessionStatus } from '../../loader/control.js';
import { UserError } from '../../common/errors.js';
import { tempDir } from '../helpers/tree.js';

function handler(): ControlHandler & { reloads: number } {
  const status: SessionStatus = { pid: process.pid, root: '/x', generation: 3, modules: [], building: false };
  const h = {
    reloads: 0,
    async reload() {
      h.reloads++;
      await new Promise((r) => setTimeout(r, 20));
      return { ok: true as const, report: { kind: 'reload' as const, generation: 4, modules: ['api', 'router'], unloaded: ['router', 'api'], swapMs: 1.5, buildMs: 900 } };
    },
    status: () => status,
  };
  return h;
}

/** Connects to `sock` as uid/gid 65534 (nobody) and prints the outcome. */
function connectAsNobody(sock: string): string {
  const script = `const s=require('net').connect(${JSON.stringify(sock)});s.on('connect',()=>{console.log('connected');s.destroy()});s.on('error',e=>console.log(e.code))`;
  const r = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 });
  return (r.stdout || r.stderr).trim();
}

describe('control socket', () => {
  it('listens with mode 0600 inside a 0700 .hotgen and answers reload and status', async () => {
    await using dir = await tempDir('ctl');
    const h = handler();
    await using server = await startControlServer(dir.path, h);
    expect(server.path).toBe(controlSocketPath(dir.path));
    const st = await stat(server.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir.path, '.hotgen'))).mode & 0o777).toBe(0o700);

    const r = await sendControl(dir.path, { op: 'reload' });
    expect(r).toMatchObject({ ok: true, report: { kind: 'reload', modules: ['api', 'router'] } });
    expect(h.reloads).toBe(1);
    expect(await sendControl(dir.path, { op: 'status' })).toMatchObject({ ok: true, status: { generation: 3 } });
    expect(await sendControl(dir.path, { op: 'bogus' } as never)).toMatchObject({ ok: false, error: expect.stringContaining('unknown op') });
  });

  it('answers requests on one connection in order, and rejects lines that are not JSON', async () => {
    await using dir = await tempDir('ctl-order');
    await using _server = await startControlServer(dir.path, handler());
    const net = await import('node:net');
    const lines = await new Promise<string[]>((resolve, reject) => {
      const s = net.connect(controlSocketPath(dir.path));
      let buf = '';
      s.on('connect', () => s.write('{"op":"reload"}\nnot json\n{"op":"status"}\n'));
      s.on('data', (d) => {
        buf += d;
        const got = buf.split('\n').filter(Boolean);
        if (got.length === 3) {
          s.destroy();
          resolve(got);
        }
      });
      s.on('error', reject);
    });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0]).toMatchObject({ ok: true, report: { kind: 'reload' } });
    expect(parsed[1]).toEqual({ ok: false, error: 'request is not JSON' });
    expect(parsed[2]).toMatchObject({ ok: true, status: { generation: 3 } });
  });

  it('refuses a second session in the same root and replaces a stale socket file', async () => {
    await using dir = await tempDir('ctl-twice');
    {
      await using _first = await startControlServer(dir.path, handler());
      await expect(startControlServer(dir.path, handler())).rejects.toThrow(/already runs/);
    }
    // A file left behind by a session that died: nobody listens on it.
    await writeFile(controlSocketPath(dir.path), '');
    await using _again = await startControlServer(dir.path, handler());
    expect((await sendControl(dir.path, { op: 'status' })).ok).toBe(true);
  });

  it('says clearly when no session runs', async () => {
    await using dir = await tempDir('ctl-none');
    const err = await sendControl(dir.path, { op: 'reload' }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/^no hotgen dev session runs in /);
    await mkdir(path.join(dir.path, '.hotgen'));
    await writeFile(controlSocketPath(dir.path), '');
    expect((await sendControl(dir.path, { op: 'reload' }).catch((e) => e)).message).toMatch(/^no hotgen dev session runs/);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a peer of another uid through the socket mode alone', async () => {
    await using dir = await tempDir('ctl-uid');
    await using server = await startControlServer(dir.path, handler());
    // Open the directories so only the socket's own mode stands between nobody and the session.
    await chmod(dir.path, 0o711);
    await chmod(path.join(dir.path, '.hotgen'), 0o711);
    expect(connectAsNobody(server.path)).toBe('EACCES');
    // The same peer gets in once the mode allows it: the refusal above came from the mode.
    await chmod(server.path, 0o666);
    expect(connectAsNobody(server.path)).toBe('connected');
  });
});
