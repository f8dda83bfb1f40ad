// The in-memory head of the sample store: points appended since the last flush, held in
// columnar typed arrays (no object per point), linked per series so that one series' points
// are found without scanning the block. A block is the unit that is logged, flushed into
// per-series chunks and then dropped; see sqlite-samples.ts for its life cycle.

const DENSE_IDS = 1 << 24; // ids below this index typed arrays; larger ones (rare) a Map

/** series id -> integer (0 = absent), dense for small ids. */
export class IdIndex {
  #dense = new Int32Array(1024);
  #sparse: Map<number, number> | undefined;

  get(id: number): number {
    if (id < DENSE_IDS) return id < this.#dense.length ? this.#dense[id] : 0;
    return this.#sparse?.get(id) ?? 0;
  }

  /**
   * Writes the ids with a non-zero value to `out` from `at`, ascending: a scan of the dense
   * table (sorted for free; ~1 ms per million ids), then the sparse ones sorted. Returns the
   * index after the last one written.
   */
  keysInto(out: Float64Array, at: number): number {
    const d = this.#dense;
    for (let id = 0; id < d.length; id++) if (d[id] !== 0) out[at++] = id;
    if (this.#sparse !== undefined) {
      const big = [...this.#sparse].filter(([, v]) => v !== 0).map(([k]) => k).sort((a, b) => a - b);
      for (const id of big) out[at++] = id;
    }
    return at;
  }

  set(id: number, value: number): void {
    if (id < DENSE_IDS) {
      if (id >= this.#dense.length) {
        let n = this.#dense.length;
        while (n <= id) n *= 2;
        const d = new Int32Array(Math.min(n, DENSE_IDS));
        d.set(this.#dense);
        this.#dense = d;
      }
      this.#dense[id] = value;
    } else (this.#sparse ??= new Map()).set(id, value);
  }
}

/** series id -> number, NaN when absent; dense for small ids. */
export class IdValues {
  #dense = new Float64Array(1024).fill(NaN);
  #sparse: Map<number, number> | undefined;

  get(id: number): number {
    if (id < DENSE_IDS) return id < this.#dense.length ? this.#dense[id] : NaN;
    return this.#sparse?.get(id) ?? NaN;
  }

  set(id: number, value: number): void {
    if (id < DENSE_IDS) {
      if (id >= this.#dense.length) {
        let n = this.#dense.length;
        while (n <= id) n *= 2;
        const d = new Float64Array(Math.min(n, DENSE_IDS)).fill(NaN);
        d.set(this.#dense);
        this.#dense = d;
      }
      this.#dense[id] = value;
    } else (this.#sparse ??= new Map()).set(id, value);
  }
}

/**
 * Points of one kind (samples: width 1; bands: width 4) in append order. `vals` is
 * interleaved: point i's columns are vals[i * width .. i * width + width).
 */
export class PointBuffer {
  readonly width: number;
  length = 0;
  /** Points marked dead (their log write failed): skipped by reads and flushes. */
  deadCount = 0;
  sid: Float64Array;
  t: Float64Array;
  vals: Float64Array;
  /** Index of the same series' previous point, -1 for its first. */
  prev: Int32Array;
  dead: Uint8Array;
  /** series id -> index + 1 of its newest point. */
  readonly #last = new IdIndex();
  /** Distinct series appended. */
  #seriesCount = 0;

  constructor(width: number, capacity = 4096) {
    this.width = width;
    this.sid = new Float64Array(capacity);
    this.t = new Float64Array(capacity);
    this.vals = new Float64Array(capacity * width);
    this.prev = new Int32Array(capacity);
    this.dead = new Uint8Array(capacity);
  }

  get seriesCount(): number {
    return this.#seriesCount;
  }

  /** Appends one point; `src` holds its columns at `src[at * width ..]`. Returns its index. */
  push(sid: number, t: number, src: ArrayLike<number>, at: number): number {
    const i = this.length;
    if (i === this.t.length) this.#grow();
    const w = this.width;
    this.sid[i] = sid;
    this.t[i] = t;
    for (let k = 0; k < w; k++) this.vals[i * w + k] = src[at * w + k];
    const last = this.#last.get(sid);
    if (last === 0) this.#seriesCount++;
    this.prev[i] = last - 1;
    this.#last.set(sid, i + 1);
    this.length = i + 1;
    return i;
  }

  /** Index of the newest point of `sid`, -1 when none; follow `prev` for older ones. */
  newest(sid: number): number {
    return this.#last.get(sid) - 1;
  }

  kill(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      if (this.dead[i] === 0) this.deadCount++;
      this.dead[i] = 1;
    }
  }

  /** Distinct series ids, ascending (a fresh array). */
  seriesIds(): Float64Array {
    // Read off the id index in order: sorting a copy of the ids in append order took 40-50 ms
    // on the event loop per sealed block at 100,000 series.
    const out = new Float64Array(this.#seriesCount);
    this.#last.keysInto(out, 0);
    return out;
  }

  /**
   * The live points of one series in time order, one per time: for a repeated time the
   * later append wins. Returns indices into this buffer: a fresh array, or a view of the
   * start of `scratch` when the points fit there (valid until the caller's next use of it: a
   * flush asks for every series of a block, and typed arrays of this size each take a
   * backing store of their own outside the heap).
   */
  pointsOf(sid: number, scratch?: Int32Array): Int32Array {
    // A series' points lie a block's width of other series apart, so each step of the chain is
    // a cache miss; `dead` (almost always all 0) is read only when some point is dead.
    const dead = this.deadCount > 0 ? this.dead : undefined;
    let n = 0;
    for (let i = this.newest(sid); i >= 0; i = this.prev[i]) if (dead === undefined || dead[i] === 0) n++;
    const idx = scratch !== undefined && n <= scratch.length ? scratch.subarray(0, n) : new Int32Array(n);
    let j = n;
    for (let i = this.newest(sid); i >= 0; i = this.prev[i]) if (dead === undefined || dead[i] === 0) idx[--j] = i;
    // Appends usually come in time order: check before sorting.
    const t = this.t;
    let sorted = true;
    for (let k = 1; k < n; k++) {
      if (t[idx[k]] <= t[idx[k - 1]]) {
        sorted = false;
        break;
      }
    }
    if (sorted) return idx;
    // Stable by time, then keep the last of each run of equal times (the latest append).
    const order = Array.from(idx).sort((a, b) => t[a] - t[b] || a - b);
    const out: number[] = [];
    for (let k = 0; k < order.length; k++) {
      if (k + 1 < order.length && t[order[k + 1]] === t[order[k]]) continue;
      out.push(order[k]);
    }
    return Int32Array.from(out);
  }

  #grow(): void {
    const cap = this.t.length * 2;
    const w = this.width;
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.sid = grow(this.sid, cap);
    this.t = grow(this.t, cap);
    this.vals = grow(this.vals, cap * w);
    this.prev = grow(this.prev, cap);
    this.dead = grow(this.dead, cap);
  }
}

/** Points appended while one block was active: samples and bands, logged under one block id. */
export class HeadBlock {
  readonly id: number;
  readonly samples: PointBuffer;
  readonly bands: PointBuffer;
  /** performance.now() when the block took its first point. */
  readonly startedAt: number;
  /** No more appends: waiting to be (or being) flushed into chunks. */
  sealed = false;
  /** Log rows written under this block id. */
  logRows = 0;

  /**
   * `capacity`: points to reserve for samples and bands (the store reserves a block and a
   * quarter): growing a buffer by doubling copies it on the event loop (85-175 ms per doubling
   * near a 4M-point block, measured in the ingest bench).
   */
  constructor(id: number, capacity?: { readonly samples: number; readonly bands: number }) {
    this.id = id;
    this.samples = new PointBuffer(1, Math.max(4096, capacity?.samples ?? 0));
    this.bands = new PointBuffer(4, Math.max(4096, capacity?.bands ?? 0));
    this.startedAt = performance.now();
  }

  get points(): number {
    return this.samples.length + this.bands.length;
  }
}
