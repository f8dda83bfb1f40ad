/**
 * Leases over a compare-and-set key-value store: a lease is a key holding its owner and expiry.
 * Taking one is `create` (no holder) or `update` at the revision read (holder expired); renewing
 * is `update` at the revision the holder last wrote, so a holder that lost its lease learns it
 * on the next renewal instead of overwriting the new owner. Expiry is judged by the injected
 * clock: hosts must keep their clocks within a small fraction of the TTL (NTP does).
 */
import { TidemarkError } from '../errors.ts';
import type { CasKv } from './types.ts';

export interface Lease {
  readonly name: string;
  readonly owner: string;
  readonly expiresAt: number;
  readonly revision: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function encode(owner: string, expiresAt: number): Uint8Array {
  return enc.encode(JSON.stringify({ owner, expiresAt }));
}

function decode(name: string, value: Uint8Array, revision: number): Lease | undefined {
  try {
    const v = JSON.parse(dec.decode(value)) as { owner?: unknown; expiresAt?: unknown };
    if (typeof v.owner !== 'string' || typeof v.expiresAt !== 'number') return undefined;
    return { name, owner: v.owner, expiresAt: v.expiresAt, revision };
  } catch {
    return undefined; // a foreign value: treated as expired, so it can be taken over
  }
}

function isConflict(err: unknown): boolean {
  return err instanceof TidemarkError && err.code === 'TM_ERR_CONFLICT';
}

export class Leases {
  readonly #kv: CasKv;
  readonly #clock: () => number;

  constructor(kv: CasKv, clock: () => number = Date.now) {
    this.#kv = kv;
    this.#clock = clock;
  }

  /** The current holder of a lease, expired or not; undefined when nobody wrote one. */
  async get(name: string): Promise<Lease | undefined> {
    const e = await this.#kv.get(name);
    return e && decode(name, e.value, e.revision);
  }

  /** Takes a lease that is free or expired (or already ours); null when someone else holds it. */
  async acquire(name: string, owner: string, ttlMs: number): Promise<Lease | null> {
    const now = this.#clock();
    const expiresAt = now + ttlMs;
    const cur = await this.#kv.get(name);
    try {
      if (!cur) return { name, owner, expiresAt, revision: await this.#kv.create(name, encode(owner, expiresAt)) };
      const held = decode(name, cur.value, cur.revision);
      if (held && held.owner !== owner && held.expiresAt > now) return null;
      return { name, owner, expiresAt, revision: await this.#kv.update(name, encode(owner, expiresAt), cur.revision) };
    } catch (err) {
      if (isConflict(err)) return null; // another taker won the race
      throw err;
    }
  }

  /** Extends a held lease; null when it was lost (taken over after expiry). */
  async renew(lease: Lease, ttlMs: number): Promise<Lease | null> {
    const expiresAt = this.#clock() + ttlMs;
    try {
      return { ...lease, expiresAt, revision: await this.#kv.update(lease.name, encode(lease.owner, expiresAt), lease.revision) };
    } catch (err) {
      if (isConflict(err)) return null;
      throw err;
    }
  }

  /** Gives a lease up so another taker need not wait for its expiry; false when it was already lost. */
  async release(lease: Lease): Promise<boolean> {
    try {
      await this.#kv.delete(lease.name, lease.revision);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * Unexpired leases whose names start with `prefix`. On JetStream the key listing is not a
   * snapshot while keys are being written (it can miss or repeat one): for inspection and
   * tests, not for decisions (the worker keeps its member list in one key for that reason).
   */
  async list(prefix: string): Promise<Lease[]> {
    const now = this.#clock();
    const out: Lease[] = [];
    for (const k of await this.#kv.keys(prefix)) {
      const l = await this.get(k);
      if (l && l.expiresAt > now) out.push(l);
    }
    return out;
  }
}
