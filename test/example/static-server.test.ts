/**
 * The example server as a plain static binary (the restart baseline): real cargo, a
 * real process, real HTTP on 127.0.0.1.
 */
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../common/exec.js';
import { tempDir } from '../helpers/tree.js';
import { skipUnless, tools } from '../helpers/tools.js';
import { EXAMPLE_DIR, buildStatic, request, splitAddr, startServer } from './helpers.js';

describe.skipIf(skipUnless(tools.cargo()))('example server, static binary', () => {
  let target: { path: string } & AsyncDisposable;
  let bin: string;

  beforeAll(async () => {
    target = await tempDir('example-target');
    bin = await buildStatic(target.path);
  });
  afterAll(async () => {
    await target?.[Symbol.asyncDispose]();
  });

  it("passes the workspace's own Rust unit tests", async () => {
    const r = await run('cargo', ['test', '--locked', '--target-dir', target.path], { cwd: EXAMPLE_DIR });
    const passed = [...r.stdout.matchAll(/test result: ok\. (\d+) passed/g)].reduce((n, m) => n + Number(m[1]), 0);
    expect(passed).toBeGreaterThanOrEqual(8);
  });

  it('answers /hello, /version, /count and /stats', async () => {
    await using data = await tempDir('example-data');
    await using server = await startServer(bin, { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') });
    const hello = await request(server.addr, 'GET', '/hello');
    expect(hello.status).toBe(200);
    expect(hello.body).toBe('hello from api v1\n');
    expect((await request(server.addr, 'GET', '/version')).body).toBe(
      'core v1, database v1, service v1, api v1, router v1\n',
    );
    const a = Number((await request(server.addr, 'GET', '/count')).body);
    const b = Number((await request(server.addr, 'GET', '/count')).body);
    expect(a).toBe(3);
    expect(b).toBe(a + 1);
    const stats = JSON.parse((await request(server.addr, 'GET', '/stats')).body);
    expect(stats).toMatchObject({ requests: 5, keys: 0, generation: 0, generations: 1, pid: server.child.pid });
    expect((await request(server.addr, 'GET', '/nope')).status).toBe(404);
    expect((await request(server.addr, 'POST', '/hello')).status).toBe(405);
  });

  it('keeps a connection alive across requests unless asked to close', async () => {
    await using data = await tempDir('example-data');
    await using server = await startServer(bin, { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await request(server.addr, 'GET', '/hello', { agent });
      const second = await request(server.addr, 'PUT', '/kv/k', { agent, body: 'v' });
      const third = await request(server.addr, 'GET', '/kv/k', { agent });
      expect([first.reusedSocket, second.reusedSocket, third.reusedSocket]).toEqual([false, true, true]);
      expect(third.headers.connection).toBe('keep-alive');
      expect(third.body).toBe('v');
    } finally {
      agent.destroy();
    }
    const closing = await request(server.addr, 'GET', '/hello', { headers: { connection: 'close' } });
    expect(closing.headers.connection).toBe('close');
  });

  it('keeps every acknowledged write across a kill -9 and a restart', async () => {
    await using data = await tempDir('example-data');
    const env = { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'nested', 'store.log') };
    {
      await using server = await startServer(bin, env);
      expect((await request(server.addr, 'PUT', '/kv/greeting', { body: 'hi there' })).status).toBe(201);
      expect((await request(server.addr, 'PUT', '/kv/greeting', { body: 'hello, world' })).status).toBe(200);
      expect((await request(server.addr, 'PUT', '/kv/gone', { body: 'x' })).status).toBe(201);
      expect((await request(server.addr, 'DELETE', '/kv/gone')).status).toBe(204);
      const big = 'é'.repeat(20_000);
      expect((await request(server.addr, 'PUT', '/kv/big', { body: big })).status).toBe(201);
      server.child.kill('SIGKILL');
      expect((await server.exited).signal).toBe('SIGKILL');
    }
    await using again = await startServer(bin, env);
    expect(await request(again.addr, 'GET', '/kv/greeting')).toMatchObject({ status: 200, body: 'hello, world' });
    expect((await request(again.addr, 'GET', '/kv/gone')).status).toBe(404);
    expect((await request(again.addr, 'GET', '/kv/big')).body).toBe('é'.repeat(20_000));
    expect(JSON.parse((await request(again.addr, 'GET', '/stats')).body).keys).toBe(2);
  });

  it('refuses bad keys, bad framing and oversized values with 4xx/5xx, and stays up', async () => {
    await using data = await tempDir('example-data');
    await using server = await startServer(bin, { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') });
    expect((await request(server.addr, 'PUT', '/kv/bad%20key', { body: 'x' })).status).toBe(400);
    expect((await request(server.addr, 'PUT', '/kv/big', { body: 'x'.repeat(64 * 1024 + 1) })).status).toBe(413);
    expect(await rawExchange(server.addr, 'GET /hello HTTP/2\r\n\r\n')).toMatch(/^HTTP\/1\.1 505 /);
    expect(await rawExchange(server.addr, 'PUT /kv/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')).toMatch(/^HTTP\/1\.1 501 /);
    expect((await request(server.addr, 'GET', '/hello')).status).toBe(200);
  });

  it('answers a panicking handler with 500 and keeps serving', async () => {
    await using data = await tempDir('example-data');
    await using server = await startServer(bin, { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') });
    const r = await request(server.addr, 'GET', '/panic');
    expect(r.status).toBe(500);
    expect(server.stderr()).toContain('GET /panic was requested');
    expect((await request(server.addr, 'GET', '/hello')).body).toBe('hello from api v1\n');
    expect(server.child.exitCode).toBeNull();
  });

  it.each([
    ['/abort', 'SIGABRT'],
    ['/segv', 'SIGSEGV'],
  ])('dies with a signal on %s, and a restart serves the stored data', async (route, signal) => {
    await using data = await tempDir('example-data');
    const env = { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') };
    {
      await using server = await startServer(bin, env);
      await request(server.addr, 'PUT', '/kv/k', { body: 'before the crash' });
      await expect(request(server.addr, 'GET', route)).rejects.toThrow();
      expect((await server.exited).signal).toBe(signal);
    }
    await using again = await startServer(bin, env);
    expect((await request(again.addr, 'GET', '/kv/k')).body).toBe('before the crash');
  });

  it('finishes the request in flight on SIGTERM, closes, and exits 0', async () => {
    await using data = await tempDir('example-data');
    await using server = await startServer(bin, { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log') });
    const slow = request(server.addr, 'GET', '/sleep?ms=2000');
    // The sleep request is in flight once the counter includes it: every /stats poll
    // adds one, so the count is polls + 1 exactly when the sleep was counted too.
    for (let polls = 1; ; polls++) {
      const n = JSON.parse((await request(server.addr, 'GET', '/stats')).body).requests;
      if (n === polls + 1) break;
      expect(n).toBe(polls);
    }
    server.child.kill('SIGTERM');
    const r = await slow;
    expect(r).toMatchObject({ status: 200, body: 'slept 2000 ms\n' });
    expect(r.headers.connection).toBe('close');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('generation 0 stopped');
    await expect(request(server.addr, 'GET', '/hello')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('serves on a socket inherited through LISTEN_FDS', async () => {
    await using data = await tempDir('example-data');
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const { port } = listener.address() as net.AddressInfo;
    // The listening socket becomes the child's fd 3 (sd_listen_fds(3) convention).
    await using server = await startServer(
      bin,
      { HOTGEN_EXAMPLE_STORE: path.join(data.path, 'store.log'), LISTEN_FDS: '1', HOTGEN_EXAMPLE_ADDR: '127.0.0.1:1' },
      [inheritable(listener)],
    );
    listener.close();
    expect(server.addr).toBe(`127.0.0.1:${port}`);
    expect((await request(server.addr, 'GET', '/hello')).body).toBe('hello from api v1\n');
    expect(await readFile(path.join(data.path, 'store.log'))).toHaveLength(0);
  });
});

/**
 * A listening net.Server in the shape child_process.spawn accepts as a stdio entry: it
 * passes `_handle` (the TCP wrap) and pauses `_stdio` as if it were a socket stream.
 */
function inheritable(server: net.Server): unknown {
  return { _handle: (server as unknown as { _handle: unknown })._handle, pause() {}, _readableState: {} };
}

/** Writes `raw` on a new connection and returns everything read until the server closes. */
function rawExchange(addr: string, raw: string): Promise<string> {
  const [host, port] = splitAddr(addr);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host, () => sock.write(raw));
    let out = '';
    sock.setEncoding('utf8').on('data', (c: string) => (out += c));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}
