/**
 * Bounded-memory heavy hitters, so one label with exploding cardinality cannot take the
 * explain stage down: Space-Saving keeps the top K exactly enough to rank contributors, and a
 * Count-Min sketch (conservative update) answers "how much of this value" for any value.
 */
import { TidemarkError } from '../errors.ts';

/**
 * MurmurHash3 (x86, 32-bit) of a string, over its UTF-16 code units taken two per 32-bit block.
 * Fast, well mixed, and stable across runs (no per-process seed).
 */
export function hash32(key: string, seed = 0): number {
  let h = seed >>> 0;
  const len = key.length;
  const pairs = len >> 1;
  for (let i = 0; i < pairs; i++) {
    let k = key.charCodeAt(2 * i) | (key.charCodeAt(2 * i + 1) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (len & 1) {
    let k = key.charCodeAt(len - 1);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= len * 2;
  return fmix32(h);
}

/** MurmurHash3's 32-bit finaliser applied to an integer key mixed with a seed. */
export function hashInt32(key: number, seed = 0): number {
  return fmix32((key ^ Math.imul(seed | 0, 0x9e3779b1)) | 0);
}

function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One monitored key of a Space-Saving summary. */
export interface HeavyHitter<K> {
  readonly key: K;
  /** Upper bound of the key's true weight. */
  readonly count: number;
  /** count - error is a lower bound of the key's true weight. */
  readonly error: number;
}

/**
 * Space-Saving (Metwally et al., 2005) with a min-heap: O(log k) per update, k counters.
 * Guarantees, for a stream of total weight N: every key with true weight > N/k is monitored;
 * for a monitored key, count - error <= true weight <= count; the smallest count is <= N/k.
 * Example: `const s = new SpaceSaving<string>(100); s.offer('host-7'); s.top(10)`.
 */
export class SpaceSaving<K = string> {
  readonly capacity: number;
  readonly #keys: (K | undefined)[];
  readonly #count: Float64Array;
  readonly #error: Float64Array;
  /** heap[h] = slot; pos[slot] = h. Min-heap on count. */
  readonly #heap: Int32Array;
  readonly #pos: Int32Array;
  readonly #slot = new Map<K, number>();
  #size = 0;
  #total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new TidemarkError('TM_ERR_CONFIG', `must be an integer >= 1, got ${capacity}`, 'capacity');
    }
    this.capacity = capacity;
    this.#keys = new Array<K | undefined>(capacity);
    this.#count = new Float64Array(capacity);
    this.#error = new Float64Array(capacity);
    this.#heap = new Int32Array(capacity);
    this.#pos = new Int32Array(capacity);
  }

  /** Total weight offered so far. */
  get total(): number {
    return this.#total;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `weight` (> 0) to `key`. */
  offer(key: K, weight = 1): void {
    if (!(weight > 0)) return;
    this.#total += weight;
    const s = this.#slot.get(key);
    if (s !== undefined) {
      this.#count[s] += weight;
      this.#down(this.#pos[s]);
      return;
    }
    if (this.#size < this.capacity) {
      const slot = this.#size++;
      this.#keys[slot] = key;
      this.#count[slot] = weight;
      this.#error[slot] = 0;
      this.#slot.set(key, slot);
      this.#heap[slot] = slot;
      this.#pos[slot] = slot;
      this.#up(slot);
      return;
    }
    // Evict the smallest counter; the newcomer inherits its count as possible over-estimate.
    const slot = this.#heap[0];
    this.#slot.delete(this.#keys[slot] as K);
    const min = this.#count[slot];
    this.#keys[slot] = key;
    this.#error[slot] = min;
    this.#count[slot] = min + weight;
    this.#slot.set(key, slot);
    this.#down(0);
  }

  /** The counter of `key`, or undefined if it is not monitored (then its weight is <= min count). */
  get(key: K): HeavyHitter<K> | undefined {
    const s = this.#slot.get(key);
    if (s === undefined) return undefined;
    return { key, count: this.#count[s], error: this.#error[s] };
  }

  /** Smallest monitored count (0 while not full): an upper bound for any unmonitored key. */
  get minCount(): number {
    return this.#size < this.capacity ? 0 : this.#count[this.#heap[0]];
  }

  /** Up to `k` monitored keys, highest count first. */
  top(k = this.capacity): HeavyHitter<K>[] {
    const out: HeavyHitter<K>[] = [];
    for (let s = 0; s < this.#size; s++) out.push({ key: this.#keys[s] as K, count: this.#count[s], error: this.#error[s] });
    out.sort((a, b) => b.count - a.count || a.error - b.error);
    return out.slice(0, Math.max(0, k));
  }

  #less(h1: number, h2: number): boolean {
    return this.#count[this.#heap[h1]] < this.#count[this.#heap[h2]];
  }

  #swap(h1: number, h2: number): void {
    const a = this.#heap[h1];
    const b = this.#heap[h2];
    this.#heap[h1] = b;
    this.#heap[h2] = a;
    this.#pos[b] = h1;
    this.#pos[a] = h2;
  }

  #up(h: number): void {
    while (h > 0) {
      const p = (h - 1) >> 1;
      if (!this.#less(h, p)) return;
      this.#swap(h, p);
      h = p;
    }
  }

  #down(h: number): void {
    const n = this.#size;
    while (true) {
      const l = 2 * h + 1;
      if (l >= n) return;
      const r = l + 1;
      const c = r < n && this.#less(r, l) ? r : l;
      if (!this.#less(c, h)) return;
      this.#swap(h, c);
      h = c;
    }
  }
}

/**
 * Count-Min sketch with conservative update (Estan & Varghese): estimates never undercount,
 * and with width = ceil(e/epsilon), depth = ceil(ln(1/delta)) an estimate exceeds the true
 * weight by more than epsilon * total with probability at most delta. Conservative update
 * only raises the counters that must rise, which tightens estimates in practice.
 * Example: `const cm = CountMinSketch.forError(0.001, 0.01); cm.add('eu-west'); cm.estimate('eu-west')`.
 */
export class CountMinSketch {
  readonly width: number;
  readonly depth: number;
  readonly #cells: Float64Array;
  readonly #rows: Int32Array;
  #total = 0;

  constructor(width: number, depth: number) {
    if (!Number.isInteger(width) || width < 1) throw new TidemarkError('TM_ERR_CONFIG', `must be an integer >= 1, got ${width}`, 'width');
    if (!Number.isInteger(depth) || depth < 1 || depth > 32) throw new TidemarkError('TM_ERR_CONFIG', `must be an integer in 1..32, got ${depth}`, 'depth');
    this.width = width;
    this.depth = depth;
    this.#cells = new Float64Array(width * depth);
    this.#rows = new Int32Array(depth);
  }

  /** A sketch whose over-estimate exceeds epsilon * total with probability at most delta. */
  static forError(epsilon: number, delta: number): CountMinSketch {
    if (!(epsilon > 0 && epsilon < 1)) throw new TidemarkError('TM_ERR_CONFIG', `must be in (0, 1), got ${epsilon}`, 'epsilon');
    if (!(delta > 0 && delta < 1)) throw new TidemarkError('TM_ERR_CONFIG', `must be in (0, 1), got ${delta}`, 'delta');
    return new CountMinSketch(Math.ceil(Math.E / epsilon), Math.ceil(Math.log(1 / delta)));
  }

  get total(): number {
    return this.#total;
  }

  /** Adds `weight` (>= 0) to `key`. */
  add(key: string, weight = 1): void {
    this.#locate(hash32(key, 0x5bd1e995), hash32(key, 0x27d4eb2f));
    this.#update(weight);
  }

  /** Adds `weight` to an integer key (e.g. an interned series id). */
  addInt(key: number, weight = 1): void {
    this.#locate(hashInt32(key, 1), hashInt32(key, 2));
    this.#update(weight);
  }

  /** Upper bound of the weight added for `key`. */
  estimate(key: string): number {
    this.#locate(hash32(key, 0x5bd1e995), hash32(key, 0x27d4eb2f));
    return this.#min();
  }

  estimateInt(key: number): number {
    this.#locate(hashInt32(key, 1), hashInt32(key, 2));
    return this.#min();
  }

  // Row i uses h1 + i*h2 (Kirsch & Mitzenmacher): d independent-enough hashes from two.
  #locate(h1: number, h2: number): void {
    const w = this.width;
    const step = (h2 | 1) >>> 0;
    for (let i = 0; i < this.depth; i++) {
      this.#rows[i] = i * w + (((h1 + Math.imul(i, step)) >>> 0) % w);
    }
  }

  #min(): number {
    let m = Infinity;
    for (let i = 0; i < this.depth; i++) {
      const c = this.#cells[this.#rows[i]];
      if (c < m) m = c;
    }
    return m;
  }

  #update(weight: number): void {
    if (!(weight >= 0)) throw new TidemarkError('TM_ERR_INPUT', `Count-Min weights must be >= 0, got ${weight}`);
    this.#total += weight;
    const target = this.#min() + weight;
    for (let i = 0; i < this.depth; i++) {
      const r = this.#rows[i];
      if (this.#cells[r] < target) this.#cells[r] = target;
    }
  }
}
