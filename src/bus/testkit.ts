/**
 * Test helpers for NATS: whether the shared server answers, unique names, and a private
 * nats-server on a free port for tests that must stop and restart it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TEST_NATS_URL = process.env.TIDEMARK_TEST_NATS ?? 'nats://127.0.0.1:4222';
export const NATS_SERVER_BIN = process.env.TIDEMARK_NATS_SERVER ?? '/usr/sbin/nats-server';

/** True when something accepts TCP connections at the URL's host:port within `ms`. */
export function reachable(url: string, ms = 500): Promise<boolean> {
  const u = new URL(url.replace(/^nats:/, 'http:').replace(/^postgres(ql)?:/, 'http:'));
  const port = Number(u.port || (url.startsWith('postgres') ? 5432 : 4222));
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, u.hostname, () => done(true));
  });
}

/**
 * Skip reason for a test that needs a service, or false to run it. With
 * TIDEMARK_REQUIRE_SERVICES=1 a missing service fails the test instead (returns false and the
 * test's connection fails loudly).
 */
export async function serviceSkip(what: string, url: string): Promise<string | false> {
  if (await reachable(url)) return false;
  if (process.env.TIDEMARK_REQUIRE_SERVICES === '1') return false;
  const reason = `${what} is not reachable at ${url}; skipping (set TIDEMARK_REQUIRE_SERVICES=1 to fail instead)`;
  process.stdout.write(`# NOTICE: ${reason}\n`);
  return reason;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A private nats-server with JetStream on a free port; `stop` then `start` keeps its store. */
export class PrivateNats {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), 'tidemark-nats-'));
  }

  static available(): boolean {
    return existsSync(NATS_SERVER_BIN);
  }

  static async start(): Promise<PrivateNats> {
    const n = new PrivateNats(await freePort());
    await n.start();
    return n;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#child = spawn(NATS_SERVER_BIN, ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.dir], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if (await reachable(this.url, 200)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nats-server did not start on port ${this.port}`);
  }

  /** SIGKILL: what a crash looks like. */
  async stop(): Promise<void> {
    const c = this.#child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
