import { TidemarkError } from '../errors.ts';

/**
 * One moment of a metric broken down to its leaves: every combination of one value per
 * dimension, with the observed (`real`) and forecast (`predict`) value. Columnar: dimension
 * values are integer codes per leaf, so cuboids aggregate by code arithmetic.
 */
export interface LeafTable {
  /** Dimension names in their canonical order (elements list their pairs in this order). */
  readonly dimensions: readonly string[];
  /** Per dimension, code -> value label. */
  readonly values: readonly (readonly string[])[];
  /** Per dimension, leaf -> code into `values[d]`. */
  readonly codes: readonly Int32Array[];
  readonly real: Float64Array;
  readonly predict: Float64Array;
}

/**
 * Builds a LeafTable row by row, interning dimension values to codes.
 * Example: `const b = new LeafTableBuilder(['dc', 'host']); b.add(['eu', 'h1'], 10, 12); b.build()`.
 */
export class LeafTableBuilder {
  readonly #dimensions: readonly string[];
  readonly #intern: Map<string, number>[];
  readonly #values: string[][];
  #codes: Int32Array[];
  #real: Float64Array;
  #predict: Float64Array;
  #n = 0;

  constructor(dimensions: readonly string[], capacity = 1024) {
    if (dimensions.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'a leaf table needs at least one dimension');
    if (new Set(dimensions).size !== dimensions.length) {
      throw new TidemarkError('TM_ERR_INPUT', `dimension names must be unique, got ${dimensions.join(', ')}`);
    }
    this.#dimensions = [...dimensions];
    this.#intern = dimensions.map(() => new Map<string, number>());
    this.#values = dimensions.map(() => []);
    const cap = Math.max(16, capacity);
    this.#codes = dimensions.map(() => new Int32Array(cap));
    this.#real = new Float64Array(cap);
    this.#predict = new Float64Array(cap);
  }

  get size(): number {
    return this.#n;
  }

  /** Adds one leaf; `labels[d]` is its value of dimension d. */
  add(labels: readonly string[], real: number, predict: number): void {
    if (labels.length !== this.#dimensions.length) {
      throw new TidemarkError('TM_ERR_INPUT', `a leaf needs ${this.#dimensions.length} dimension values, got ${labels.length}`);
    }
    if (this.#n === this.#real.length) this.#grow();
    const i = this.#n++;
    for (let d = 0; d < labels.length; d++) this.#codes[d][i] = this.codeOf(d, labels[d]);
    this.#real[i] = real;
    this.#predict[i] = predict;
  }

  /** The code of a value of dimension `d`, interning it on first sight. */
  codeOf(d: number, label: string): number {
    const map = this.#intern[d];
    let c = map.get(label);
    if (c === undefined) {
      c = this.#values[d].length;
      map.set(label, c);
      this.#values[d].push(label);
    }
    return c;
  }

  /** Adds one leaf by codes already obtained from `codeOf` (the fast path for parsers). */
  addCoded(codes: ArrayLike<number>, real: number, predict: number): void {
    if (this.#n === this.#real.length) this.#grow();
    const i = this.#n++;
    for (let d = 0; d < this.#dimensions.length; d++) this.#codes[d][i] = codes[d];
    this.#real[i] = real;
    this.#predict[i] = predict;
  }

  /** The finished table; the builder must not be used afterwards. */
  build(): LeafTable {
    const n = this.#n;
    return {
      dimensions: this.#dimensions,
      values: this.#values.map((v) => [...v]),
      codes: this.#codes.map((c) => c.slice(0, n)),
      real: this.#real.slice(0, n),
      predict: this.#predict.slice(0, n),
    };
  }

  #grow(): void {
    const cap = this.#real.length * 2;
    this.#codes = this.#codes.map((c) => {
      const x = new Int32Array(cap);
      x.set(c);
      return x;
    });
    const r = new Float64Array(cap);
    r.set(this.#real);
    this.#real = r;
    const p = new Float64Array(cap);
    p.set(this.#predict);
    this.#predict = p;
  }
}

/**
 * Parses a leaf CSV: header `real,predict,<dim>,<dim>...` (dimension names are taken from the
 * header), one leaf per line. `source` names the input in error messages.
 */
export function parseLeafCsv(text: string, source = 'input'): LeafTable {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const len = text.length;
  const nextLine = (): string | undefined => {
    if (pos >= len) return undefined;
    let end = text.indexOf('\n', pos);
    if (end < 0) end = len;
    let line = text.slice(pos, end);
    pos = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    return line;
  };
  const header = nextLine();
  if (header === undefined) throw new TidemarkError('TM_ERR_INPUT', 'empty file; expected a header real,predict,<dimensions>', source);
  const cols = header.split(',').map((c) => c.trim());
  if (cols.length < 3 || cols[0] !== 'real' || cols[1] !== 'predict') {
    throw new TidemarkError('TM_ERR_INPUT', `header must be real,predict,<dimension>...; got '${header}'`, `${source}:1`);
  }
  const dims = cols.slice(2);
  const b = new LeafTableBuilder(dims, Math.max(1024, Math.floor(len / 24)));
  const codes = new Int32Array(dims.length);
  let lineNo = 1;
  for (let line = nextLine(); line !== undefined; line = nextLine()) {
    lineNo++;
    if (line.length === 0) continue;
    const parts = line.split(',');
    if (parts.length !== cols.length) {
      throw new TidemarkError('TM_ERR_INPUT', `expected ${cols.length} fields, got ${parts.length}`, `${source}:${lineNo}`);
    }
    const real = Number(parts[0]);
    const predict = Number(parts[1]);
    if (!Number.isFinite(real) || !Number.isFinite(predict) || parts[0] === '' || parts[1] === '') {
      throw new TidemarkError('TM_ERR_INPUT', `real and predict must be finite numbers, got '${parts[0]}','${parts[1]}'`, `${source}:${lineNo}`);
    }
    for (let d = 0; d < dims.length; d++) codes[d] = b.codeOf(d, parts[2 + d]);
    b.addCoded(codes, real, predict);
  }
  return b.build();
}
