// Distinct label values of one (metric, label name), counted by live series, for the
// per-metric label-value limit. A Map<string, number> here kept every distinct value string
// alive plus a ~50-byte map entry per value: with a label like `pod` or `instance` that is
// unique per series, ~100 bytes per series. This table keeps a 64-bit hash of each value and
// its count (12 bytes per slot, load <= 1/2), and no string. Two distinct values would have to
// share both 32-bit hashes to be counted as one (about 1 in 10^7 over a million values; the
// limit then lets one more value in), never the other way round.

/** Two independent 32-bit hashes of `s` (FNV-1a and a murmur-style mix, each finalised). */
function hashInto(s: string, out: Int32Array): void {
  let a = 0x811c9dc5 | 0;
  let b = (0x9747b28c ^ s.length) | 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  a ^= a >>> 16;
  b ^= b >>> 15;
  b = Math.imul(b, 0x2c1b3c6d);
  b ^= b >>> 12;
  out[0] = a;
  out[1] = b;
}

const H = new Int32Array(2);
const MIN_SLOTS = 8;

/** Counts per distinct value: `add` on a new live series, `remove` when it goes. */
export class ValueCounts {
  /** Triples (hash a, hash b, count); count 0 marks an empty slot. */
  #t = new Int32Array(3 * MIN_SLOTS);
  #mask = MIN_SLOTS - 1;
  #size = 0;

  /** Distinct values with a count above zero. */
  get size(): number {
    return this.#size;
  }

  /** Live series with this value. */
  count(value: string): number {
    const i = this.#find(value);
    return i < 0 ? 0 : this.#t[3 * i + 2];
  }

  has(value: string): boolean {
    return this.#find(value) >= 0;
  }

  add(value: string): void {
    const i = this.#find(value);
    if (i >= 0) {
      this.#t[3 * i + 2]++;
      return;
    }
    if (2 * (this.#size + 1) > this.#mask + 1) this.#resize(2 * (this.#mask + 1));
    this.#insert(H[0], H[1], 1); // #find left the value's hashes in H
    this.#size++;
  }

  remove(value: string): void {
    const i = this.#find(value);
    if (i < 0) return;
    const t = this.#t;
    if (--t[3 * i + 2] > 0) return;
    this.#size--;
    // Backward-shift deletion keeps every probe run unbroken without tombstones.
    const mask = this.#mask;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (t[3 * j + 2] === 0) break;
      const home = t[3 * j] & mask;
      // Slot j may move into the hole unless its home lies cyclically in (hole, j].
      if (hole <= j ? home > hole && home <= j : home > hole || home <= j) continue;
      t[3 * hole] = t[3 * j];
      t[3 * hole + 1] = t[3 * j + 1];
      t[3 * hole + 2] = t[3 * j + 2];
      hole = j;
    }
    t[3 * hole + 2] = 0;
    if (this.#size === 0 && this.#mask + 1 > MIN_SLOTS) {
      this.#t = new Int32Array(3 * MIN_SLOTS);
      this.#mask = MIN_SLOTS - 1;
    }
  }

  /** Slot of `value` or -1; leaves its hashes in H either way. */
  #find(value: string): number {
    hashInto(value, H);
    const a = H[0];
    const b = H[1];
    const t = this.#t;
    const mask = this.#mask;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      if (t[3 * i + 2] === 0) return -1;
      if (t[3 * i] === a && t[3 * i + 1] === b) return i;
    }
  }

  #insert(a: number, b: number, n: number): void {
    const t = this.#t;
    const mask = this.#mask;
    let i = a & mask;
    while (t[3 * i + 2] !== 0) i = (i + 1) & mask;
    t[3 * i] = a;
    t[3 * i + 1] = b;
    t[3 * i + 2] = n;
  }

  #resize(slots: number): void {
    const old = this.#t;
    this.#t = new Int32Array(3 * slots);
    this.#mask = slots - 1;
    for (let i = 0; i < old.length; i += 3) if (old[i + 2] !== 0) this.#insert(old[i], old[i + 1], old[i + 2]);
  }
}
