/**
 * A small seeded PRNG (mulberry32) for tests, benchmarks and synthetic data: the same seed
 * gives the same stream on every machine, so generated series and their verdicts are stable.
 */
/** mulberry32 as a plain function: uniform floats in [0, 1), the stream `Rng.next` gives for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  #a: number;
  #spare = NaN;

  constructor(seed: number) {
    this.#a = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#a = (this.#a + 0x6d2b79f5) >>> 0;
    let t = this.#a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.#spare === this.#spare) {
      const s = this.#spare;
      this.#spare = NaN;
      return s;
    }
    let u = this.next();
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * this.next();
    this.#spare = r * Math.sin(th);
    return r * Math.cos(th);
  }
}

/**
 * A packed array of doubles of length `n`, filled with `fill`. State that holds numbers uses
 * plain arrays built here rather than Float64Array: V8 stores them unboxed just the same, but
 * each typed array carries about 200 bytes of object headers, which dominates small states.
 */
export function doubles(n: number, fill = 0): number[] {
  // Slicing a packed-double template gives the PACKED_DOUBLE elements kind (the hot path never
  // sees a transition) and exactly n slots; growing by push would leave up to 50% slack.
  while (template.length < n) template = template.concat(template);
  const a = template.slice(0, n);
  for (let i = 0; i < n; i++) a[i] = fill;
  return a;
}

let template: number[] = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
