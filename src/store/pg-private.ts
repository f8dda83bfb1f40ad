// A private, throwaway PostgreSQL server for tests that must stop and start one (the shared
// server on 5432 must not be restarted under other tests). Uses the Debian binaries in
// /usr/lib/postgresql/<version>/bin; as root, runs them as the `postgres` account (initdb
// refuses root).
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The newest installed server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], 'bin') : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class PrivatePostgres {
  readonly url: string;
  readonly #bin: string;
  readonly #dir: string;
  readonly #port: number;
  readonly #asPostgres: boolean;

  private constructor(bin: string, dir: string, port: number, asPostgres: boolean) {
    this.#bin = bin;
    this.#dir = dir;
    this.#port = port;
    this.#asPostgres = asPostgres;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  /** initdb into a temp dir and start on a free port (fsync off: it is thrown away). */
  static async create(bin: string): Promise<PrivatePostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-pg-'));
    const asPostgres = process.getuid?.() === 0;
    if (asPostgres) {
      const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      if (ids.status !== 0) throw new Error('running as root, but there is no postgres account to run the server as');
      chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
    }
    const pg = new PrivatePostgres(bin, dir, await freePort(), asPostgres);
    pg.#run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    pg.start();
    return pg;
  }

  start(): void {
    const opts = `-p ${this.#port} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    this.#run('pg_ctl', ['-D', join(this.#dir, 'data'), '-l', join(this.#dir, 'log'), '-o', opts, '-w', '-t', '60', 'start']);
  }

  /** `immediate` is a crash: no shutdown checkpoint, recovery from the WAL at the next start. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.#run('pg_ctl', ['-D', join(this.#dir, 'data'), '-m', mode, '-w', '-t', '60', 'stop']);
  }

  destroy(): void {
    try {
      this.stop('immediate');
    } catch {
      // Already stopped.
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #run(tool: string, args: string[]): void {
    const cmd = join(this.#bin, tool);
    const r = this.#asPostgres ? spawnSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { encoding: 'utf8' }) : spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  }
}
