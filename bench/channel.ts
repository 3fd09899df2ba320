/**
 * The channel floor of a swap: what the benchmark's "reload → first answer" costs on this
 * machine besides any work of the host's. A bare Node child, started with the host's Node
 * options (loader/host-node.ts), answers one IPC message shaped like `reload` with one
 * shaped like `reloaded`, and answers a fresh loopback HTTP request; nothing is mapped,
 * stopped or started. Measured after the same idle time as a swap (the wake-ups are part
 * of the cost).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { HOST_NODE_ARGS } from '../loader/host-node.js';
import { rawGet } from './host-driver.js';

const CHILD = `
const net = require('node:net');
const srv = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\nconnection: close\\r\\n\\r\\nok\\n')));
srv.listen(0, '127.0.0.1', () => process.send({ port: srv.address().port }));
process.on('message', (m) => process.send({ type: 'reloaded', generation: m.generation, timings: { stopMs: 0, unloadMs: 0, loadMs: 0, totalMs: 0 } }));
process.on('disconnect', () => process.exit(0));
`;

/** A running channel-floor child; `await using` ends it. */
export class ChannelFloor implements AsyncDisposable {
  #generation = 0;
  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
  ) {}

  /** Starts the child. @throws Error when it does not report its port within 10 s. */
  static async start(): Promise<ChannelFloor> {
    const child = spawn(process.execPath, [...HOST_NODE_ARGS, '-e', CHILD], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the channel-floor child did not start within 10 s')), 10_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve((m as { port: number }).port);
      });
      child.once('exit', (code) => reject(new Error(`the channel-floor child exited (${code})`)));
    });
    return new ChannelFloor(child, port);
  }

  /** After `idleMs` of quiet: ms for one IPC round trip and then one fresh loopback GET answered. */
  async measure(idleMs: number): Promise<number> {
    await new Promise((r) => setTimeout(r, idleMs));
    const t0 = performance.now();
    const answered = new Promise((resolve) => this.child.once('message', resolve));
    this.child.send({ type: 'reload', generation: ++this.#generation, unload: ['m'], load: [{ name: 'm', path: '/nonexistent', role: 'reloadable' }] });
    await answered;
    const r = await rawGet(this.port, '/', 5000);
    if (r.status !== 200) throw new Error(`the channel-floor child answered ${r.status}`);
    return performance.now() - t0;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.disconnect();
    await exited;
  }
}
