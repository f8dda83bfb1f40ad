/**
 * Detector sets: one compiled list of detectors (validated once) whose verdicts for a point
 * are fused into one score, one band and the reasons behind them.
 *
 * Per point, the rules run first on the raw value, in entry order; a rule may condition what
 * the models see (counter_reset hands them a counter's rate, unit_change asks them to rescale),
 * and such a conditioning rule judges the value as the rules before it conditioned it
 * (unit_change after counter_reset judges a counter's rate: the quantity the models rescale).
 * Then the models run on the conditioned value. Fusion:
 * - score: the highest score of any detector. Every detector is calibrated alike (0.5
 *   unusual, 0.9 clearly anomalous), so the maximum keeps that meaning, and one clear
 *   witness is enough.
 * - reasons/sources: every detector scoring at least REPORT_MIN (0.3), strongest first (ties
 *   in entry order); 'normal' alone, from the band's detector, when none does.
 * - band (expected/lower/upper): from the first model in entry order that is past learning,
 *   so the band the UI draws does not jump between detectors from point to point.
 * - learning: true, with score 0, while every detector is still learning.
 * The default profile's steady state runs compiled, the whole point in one call (asm/set.ts),
 * for regions in the arena; it declines, changing nothing, in every case it does not handle, and
 * the code below runs. Both give the same verdicts to the bit (novelty-kernel.test.ts).
 */
import { TidemarkError } from '../errors.ts';
import { REPORT_MIN } from './define.ts';
import { getDetector } from './registry.ts';
import type { Conditioning, Detector, DetectorEntry, DetectorSet, Embedded, FusedVerdict, Reason, Verdict } from './types.ts';
import { newVerdict } from './types.ts';
import { touchRange } from './define.ts';
import { arenaOffset, fnv1a32, inArena, slabDoubles } from '../series/index.ts';
import { detectKernels } from './kernels.ts';
import { noveltyKernelVerdict, noveltyLastValue } from './novelty.ts';
import { restoreState, snapshotState } from './state.ts';

/**
 * The set an operator gets with no tuning. It must work on any series with no per-series
 * settings: unknown scale and shape (novelty judges every deviation by how rare it is in this
 * series' own history, so 0.9 means "rarer than this series has shown" on a CPU percentage
 * and on a byte counter alike), unknown sampling rate (the time-of-day table is indexed by
 * wall-clock time), with or without seasonality, gauges or counters (counters are judged as
 * rates), and unit changes (models rescale). The rules keep their absolute meaning beside it.
 * seasonal_baseline and robust_z stay available for explicit sets: on real metrics their
 * fixed-z scores saturate on ordinary points (NAB dev scored 0 with them as the default).
 * weekly_shift adds what a calibrated, adapting view cannot see: a sustained +5% shift, a
 * slow drift or a missing working-day peak against the same hour last week. new_level adds
 * a value at a coarse level the series has never been near (docs/research/nab-round-5.md:
 * NAB dev 64.3 -> 67.4 standard, synthetic F1 0.905 -> 0.920).
 * Memory: one region per series, 2,768 bytes of slab (novelty 1.7 KB: its baseline window
 * ranked, see series/ranked.ts, and 20-bin calibrators; weekly_shift 0.5 KB, new_level 48 B,
 * the rules 0.36 KB; every detector's options are kept once per set) plus a 96-byte view:
 * about 3 KB by detect.bench.ts' retained heap (2,962 bytes a series).
 */
export const DEFAULT_PROFILE: readonly DetectorEntry[] = Object.freeze([
  Object.freeze({ name: 'impossible_value' }),
  Object.freeze({ name: 'no_data' }),
  Object.freeze({ name: 'counter_reset' }),
  Object.freeze({ name: 'unit_change' }),
  Object.freeze({ name: 'novelty' }),
  Object.freeze({ name: 'weekly_shift' }),
  Object.freeze({ name: 'new_level' }),
]);

/** The set kernel (asm/set.ts) judges sets of exactly these detectors, in this order. */
const KERNEL_SET = DEFAULT_PROFILE.map((e) => e.name).join(',');
const KERNELS = detectKernels();
/** The set kernel's reason codes (asm/set.ts). */
const KERNEL_REASONS: readonly Reason[] = ['normal', 'learning', 'spike', 'dip', 'drop_to_zero', 'drift_up', 'drift_down'];

type AnyDetector = Detector<unknown, unknown>;
type AnyEmbedded = Embedded<unknown>;

/** Layout version of a set's region (see CompiledSet); part of the tag in its slot 0. */
const REGION_VERSION = 1;

/**
 * A series' state. When every detector of the set is embeddable (the default profile is), the
 * state is one region: a Float64Array view of a shared slab, [tag | each detector's block], so
 * a series costs one object and its bytes are contiguous. Otherwise it is an array of the
 * detectors' own states, in entry order.
 */
type SetState = Float64Array | unknown[];

class CompiledSet implements DetectorSet<SetState> {
  readonly entries: readonly DetectorEntry[];
  readonly #dets: AnyDetector[];
  readonly #configs: Readonly<unknown>[];
  readonly #names: string[];
  readonly #rules: number[];
  readonly #models: number[];
  readonly #ticking: number[];
  /** Detectors that say when a condition they reported goes on (Detector.ongoing). */
  readonly #ongoing: number[];
  readonly #touching: number[];
  /** One verdict per detector, reused for every point of every series. */
  readonly #scratch: Verdict[];
  readonly #order: Int32Array;
  readonly #cond: Conditioning = { value: NaN, factor: 1, relearn: false };
  /**
   * Region mode: each detector's embedded form (null otherwise); where its block is stored in
   * a region (`#at`, `#stored` words: the block less its leading options) and the offset its
   * code addresses (`#vo` = #at - options, so f[#vo + k] is word k of the block); its words
   * in all; its options, kept once in `#opts` from `#go`; its initial block (`#inits`).
   */
  readonly #embeds: AnyEmbedded[] | null;
  readonly #at: Int32Array;
  readonly #stored: Int32Array;
  readonly #vo: Int32Array;
  readonly #words: Int32Array;
  readonly #go: Int32Array;
  readonly #opts: Float64Array;
  readonly #inits: Float64Array[];
  /** The stored part of each block of #inits (what a block is reset to). */
  readonly #tails: Float64Array[];
  /** A new series' whole region: the tag, then every block's stored part. */
  readonly #initRegion: Float64Array;
  readonly #size: number;
  readonly #tag: number;
  /** Region mode with a detector that asks for a touch: [from, to) word ranges of the region touched before a point. */
  readonly #touch: Int32Array;
  /**
   * The set kernel's descriptor (asm/set.ts: each block's byte offset in the region, then its
   * options' byte address), as its byte address in the arena; -1 where the kernel does not apply.
   */
  readonly #kernelAt: number;
  /** With the set kernel: novelty's entry, and where its block starts (f[#noveltyAt + k] is its word k). */
  readonly #novelty: number;
  readonly #noveltyAt: number;

  constructor(entries: readonly DetectorEntry[], dets: AnyDetector[], configs: Readonly<unknown>[], allowRegion: boolean) {
    this.entries = entries;
    this.#dets = dets;
    this.#configs = configs;
    this.#names = dets.map((d) => d.name);
    this.#rules = [];
    this.#models = [];
    this.#ticking = [];
    this.#touching = [];
    this.#ongoing = [];
    dets.forEach((d, i) => {
      if (d.touch) this.#touching.push(i);
      (d.kind === 'rule' ? this.#rules : this.#models).push(i);
      if (d.tick) this.#ticking.push(i);
      if (d.ongoing) this.#ongoing.push(i);
    });
    this.#scratch = dets.map(() => newVerdict());
    this.#order = new Int32Array(dets.length);
    const region = allowRegion && dets.length > 0 && dets.every((d) => d.embed !== undefined);
    this.#embeds = region ? dets.map((d) => d.embed as AnyEmbedded) : null;
    const n = dets.length;
    this.#at = new Int32Array(n);
    this.#stored = new Int32Array(n);
    this.#vo = new Int32Array(n);
    this.#words = new Int32Array(n);
    this.#go = new Int32Array(n);
    this.#inits = [];
    let size = 1;
    let opts = 0;
    if (region) {
      dets.forEach((d, i) => {
        const e = d.embed as AnyEmbedded;
        const w = e.words(configs[i]);
        const k = e.options ?? 0;
        // A series' first block, the same for all: init copies it (its options stay here).
        const first = new Float64Array(w);
        e.initAt(configs[i], first, 0);
        this.#inits.push(first);
        this.#at[i] = size;
        this.#stored[i] = w - k;
        this.#vo[i] = size - k;
        this.#words[i] = w;
        this.#go[i] = opts;
        size += w - k;
        opts += k;
      });
    }
    this.#size = size;
    // In a slab, so that kernels (series/arena.ts) can read the options where they are.
    this.#opts = slabDoubles(opts);
    for (let i = 0; i < this.#inits.length; i++) this.#opts.set(this.#inits[i].subarray(0, this.#words[i] - this.#stored[i]), this.#go[i]);
    // The tag names the build's region layout and this set's blocks and options, so a region of
    // another set, config or layout is refused even where its length happens to match.
    this.#tag = REGION_VERSION * 2 ** 32 + fnv1a32(`${this.#names.join(',')}:${Array.from(this.#words).join(',')}:${Array.from(this.#opts).join(',')}`);
    const touch: number[] = [];
    if (region && dets.some((d) => (d.embed as AnyEmbedded).touches === true)) {
      dets.forEach((d, i) => {
        const hot = (d.embed as AnyEmbedded).hot;
        const ranges = hot ? hot(configs[i]) : [0, this.#words[i]];
        for (let k = 0; k < ranges.length; k += 2) {
          // Ranges are of the whole block; the options before #at are not in the region.
          const from = Math.max(this.#at[i], this.#vo[i] + ranges[k]);
          const to = this.#vo[i] + ranges[k + 1];
          if (to <= from) continue;
          // Blocks follow each other: a range that starts where the last ended extends it.
          if (touch.length > 0 && touch[touch.length - 1] >= from - 8) touch[touch.length - 1] = to;
          else touch.push(from, to);
        }
      });
      // From the tag on: its line is the first blocks' anyway.
      if (touch.length > 0 && touch[0] <= 8) touch[0] = 0;
      else touch.unshift(0, 1);
    }
    this.#touch = Int32Array.from(touch);
    // A new series' region, built once: init copies it whole (no per-series views of #inits,
    // which cost ~670 bytes of garbage a series on the first-sight path).
    this.#tails = this.#inits.map((first, i) => first.subarray(this.#words[i] - this.#stored[i]));
    this.#initRegion = new Float64Array(region ? size : 0);
    if (region) {
      this.#initRegion[0] = this.#tag;
      for (let i = 0; i < this.#tails.length; i++) this.#initRegion.set(this.#tails[i], this.#at[i]);
    }
    this.#novelty = this.#names.indexOf('novelty');
    this.#noveltyAt = this.#novelty >= 0 ? this.#vo[this.#novelty] : -1;
    let kernelAt = -1;
    if (region && KERNELS !== null && this.#names.join(',') === KERNEL_SET && inArena(this.#opts.buffer)) {
      const desc = slabDoubles(2 * n);
      if (inArena(desc.buffer)) {
        for (let i = 0; i < n; i++) {
          desc[i] = 8 * this.#vo[i];
          desc[n + i] = this.#opts.byteOffset + 8 * this.#go[i];
        }
        this.#desc = desc;
        kernelAt = desc.byteOffset;
      }
    }
    this.#kernelAt = kernelAt;
  }

  /** Keeps the descriptor's slab alive as long as the set. */
  #desc: Float64Array | null = null;

  init(): SetState {
    const embeds = this.#embeds;
    if (embeds === null) return this.#dets.map((d, i) => d.init(this.#configs[i]));
    const f = slabDoubles(this.#size);
    f.set(this.#initRegion);
    return f;
  }

  update(state: SetState, t: number, value: number, out: FusedVerdict): FusedVerdict {
    if (this.#embeds !== null) return this.#updateRegion(state as Float64Array, t, value, out);
    return this.#updateStates(state as unknown[], t, value, out);
  }

  /** `update` of a region: every detector's block of `f`. */
  #updateRegion(f: Float64Array, t: number, value: number, out: FusedVerdict): FusedVerdict {
    if (this.#kernelAt >= 0) {
      const at = arenaOffset(f);
      if (at >= 0) {
        const k = (KERNELS as NonNullable<typeof KERNELS>).set.updateSet(at, this.#kernelAt, t, value);
        if (k === 0) {
          // Judged, nothing reports: the fusion of #fuse, with novelty's band.
          const fused = (KERNELS as NonNullable<typeof KERNELS>).fused;
          out.learning = false;
          out.score = fused[0];
          out.expected = fused[1];
          out.lower = fused[2];
          out.upper = fused[3];
          out.outside = outsideBand(noveltyLastValue(f, this.#noveltyAt), fused[2], fused[3]);
          out.ongoing = this.#ongoingOf(f);
          setOne(out.reasons, out.sources, 'normal', this.#names[this.#novelty]);
          return out;
        }
        if (k === 2) return this.#fuseKernel(f, out);
      }
    }
    const embeds = this.#embeds as AnyEmbedded[];
    const at = this.#vo;
    const g = this.#opts;
    const go = this.#go;
    // Fetch the region's cache lines up front (see Detector.touch): a series' state is
    // contiguous, so its misses overlap instead of stalling the searches one load at a time.
    const touch = this.#touch;
    for (let k = 0; k < touch.length; k += 2) touchRange(f, touch[k], touch[k + 1]);
    const sc = this.#scratch;
    const c = this.#cond;
    c.value = value;
    c.factor = 1;
    c.relearn = false;
    const rules = this.#rules;
    for (let r = 0; r < rules.length; r++) {
      const i = rules[r];
      const e = embeds[i];
      // A conditioning rule judges what the rules before it made of the value (see Detector.condition).
      if (e.conditionAt !== undefined) {
        e.updateAt(f, at[i], t, c.value, sc[i], g, go[i]);
        e.conditionAt(f, at[i], c);
      } else e.updateAt(f, at[i], t, value, sc[i], g, go[i]);
    }
    if (c.relearn || c.factor !== 1) this.#reconditionRegion(f, c);
    const models = this.#models;
    const v = c.value;
    for (let m = 0; m < models.length; m++) {
      const i = models[m];
      embeds[i].updateAt(f, at[i], t, v, sc[i], g, go[i]);
    }
    this.#fuse(out, embeds.length, null, v);
    out.ongoing = !out.learning && this.#ongoingOf(f);
    return out;
  }

  #updateStates(state: unknown[], t: number, value: number, out: FusedVerdict): FusedVerdict {
    const dets = this.#dets;
    // States that declare a touch first (a speed hint, see Detector.touch; in the default
    // profile novelty's, most of a series' bytes): its cache misses then overlap each other
    // and the rules' work instead of stalling novelty's searches one load at a time.
    const touching = this.#touching;
    for (let k = 0; k < touching.length; k++) {
      const i = touching[k];
      (dets[i].touch as NonNullable<AnyDetector['touch']>)(state[i]);
    }
    const sc = this.#scratch;
    const c = this.#cond;
    c.value = value;
    c.factor = 1;
    c.relearn = false;
    const rules = this.#rules;
    for (let r = 0; r < rules.length; r++) {
      const i = rules[r];
      const d = dets[i];
      if (d.condition !== undefined) {
        d.update(state[i], t, c.value, sc[i]);
        d.condition(state[i], c);
      } else d.update(state[i], t, value, sc[i]);
    }
    if (c.relearn || c.factor !== 1) this.#recondition(state, c);
    const models = this.#models;
    const v = c.value;
    for (let m = 0; m < models.length; m++) {
      const i = models[m];
      dets[i].update(state[i], t, v, sc[i]);
    }
    this.#fuse(out, dets.length, null, v);
    out.ongoing = !out.learning && this.#ongoingOf(state);
    return out;
  }

  tick(state: SetState, now: number, out: FusedVerdict): FusedVerdict {
    const ticking = this.#ticking;
    const embeds = this.#embeds;
    for (let k = 0; k < ticking.length; k++) {
      const i = ticking[k];
      if (embeds !== null) (embeds[i].tickAt as NonNullable<AnyEmbedded['tickAt']>)(state as Float64Array, this.#vo[i], now, this.#scratch[i], this.#opts, this.#go[i]);
      else (this.#dets[i].tick as NonNullable<AnyDetector['tick']>)((state as unknown[])[i], now, this.#scratch[i]);
    }
    this.#fuse(out, ticking.length, ticking, NaN);
    out.ongoing = false;
    return out;
  }

  check(state: unknown): void {
    const dets = this.#dets;
    const embeds = this.#embeds;
    if (embeds !== null) {
      if (!(state instanceof Float64Array) || state.length !== this.#size || state[0] !== this.#tag) {
        throw new TidemarkError('TM_ERR_STATE', `expected the state region of ${dets.length} detectors (${this.#names.join(', ')}) in this build's layout; the series relearns`, 'state');
      }
      for (let i = 0; i < dets.length; i++) {
        const check = embeds[i].checkAt;
        if (check !== undefined && !check(state, this.#vo[i], this.#words[i], this.#opts, this.#go[i])) {
          throw new TidemarkError('TM_ERR_STATE', `${this.#names[i]}: the state has another layout (a checkpoint of an older build); the series relearns`, `state[${i}]`);
        }
      }
      return;
    }
    if (!Array.isArray(state) || state.length !== dets.length) {
      throw new TidemarkError('TM_ERR_STATE', `expected the states of ${dets.length} detectors (${this.#names.join(', ')})`, 'state');
    }
    for (let i = 0; i < dets.length; i++) {
      const check = dets[i].check;
      if (check !== undefined && !check(state[i])) {
        throw new TidemarkError('TM_ERR_STATE', `${this.#names[i]}: the state has another layout (a checkpoint of an older build); the series relearns`, `state[${i}]`);
      }
    }
  }

  saveModels(state: SetState): unknown {
    if (this.#embeds !== null) return (state as Float64Array).slice();
    return this.#models.map((i) => restoreState(snapshotState((state as unknown[])[i])));
  }

  restoreModels(state: SetState, saved: unknown): void {
    const models = this.#models;
    if (this.#embeds !== null) {
      const f = state as Float64Array;
      const from = saved as Float64Array;
      for (const i of models) f.set(from.subarray(this.#at[i], this.#at[i] + this.#stored[i]), this.#at[i]);
      return;
    }
    models.forEach((i, k) => ((state as unknown[])[i] = (saved as unknown[])[k]));
  }

  /** `#recondition` in a region: rescale the models' blocks in place, or clear and re-init them. */
  #reconditionRegion(f: Float64Array, c: Conditioning): void {
    const embeds = this.#embeds as AnyEmbedded[];
    for (const i of this.#models) {
      const e = embeds[i];
      if (!c.relearn && c.factor > 0 && Number.isFinite(c.factor) && e.rescaleAt) e.rescaleAt(f, this.#vo[i], c.factor, this.#opts, this.#go[i]);
      else f.set(this.#tails[i], this.#at[i]);
    }
  }

  /** Applies a rule's request: rescale the models (or re-init those that cannot), or re-init all. */
  #recondition(state: unknown[], c: Conditioning): void {
    for (const i of this.#models) {
      const d = this.#dets[i];
      if (!c.relearn && c.factor > 0 && Number.isFinite(c.factor) && d.rescale) d.rescale(state[i], c.factor);
      else state[i] = d.init(this.#configs[i]);
    }
  }

  /** Fuses the verdicts the set kernel left (a point where some detector reports). */
  #fuseKernel(f: Float64Array, out: FusedVerdict): FusedVerdict {
    const sc = this.#scratch;
    const v = (KERNELS as NonNullable<typeof KERNELS>).verdicts;
    for (let i = 0; i < sc.length; i++) {
      const s = sc[i];
      s.score = v[5 * i];
      s.expected = v[5 * i + 1];
      s.lower = v[5 * i + 2];
      s.upper = v[5 * i + 3];
      s.reason = KERNEL_REASONS[v[5 * i + 4]];
    }
    noveltyKernelVerdict(f, this.#noveltyAt, sc[this.#novelty]);
    this.#fuse(out, sc.length, null, noveltyLastValue(f, this.#noveltyAt));
    out.ongoing = !out.learning && this.#ongoingOf(f);
    return out;
  }

  /** Some detector says a condition it reported goes on (Detector.ongoing), in a region or in states of their own. */
  #ongoingOf(state: SetState): boolean {
    const ongoing = this.#ongoing;
    const embeds = this.#embeds;
    for (let k = 0; k < ongoing.length; k++) {
      const i = ongoing[k];
      const on =
        embeds !== null
          ? (embeds[i].ongoingAt as NonNullable<AnyEmbedded['ongoingAt']>)(state as Float64Array, this.#vo[i], this.#opts, this.#go[i])
          : (this.#dets[i].ongoing as NonNullable<AnyDetector['ongoing']>)((state as unknown[])[i]);
      if (on) return true;
    }
    return false;
  }

  /**
   * Fuses the scratch verdicts of `count` detectors (all, or those listed in `only`); `judged`
   * is the value the models saw (NaN for a clock tick), for `outside`.
   */
  #fuse(out: FusedVerdict, count: number, only: number[] | null, judged: number): FusedVerdict {
    const sc = this.#scratch;
    const order = this.#order;
    let best = 0;
    let learning = count > 0;
    let k = 0;
    for (let j = 0; j < count; j++) {
      const i = only === null ? j : only[j];
      const v = sc[i];
      // Once one verdict is past learning the others need not be compared (a string comparison
      // is a builtin call here; in the steady state this makes one a point instead of seven).
      if (learning && v.reason !== 'learning') learning = false;
      const s = v.score;
      if (s > best) best = s;
      if (s >= REPORT_MIN) {
        // Insertion by score, descending; equal scores keep entry order.
        let p = k++;
        while (p > 0 && sc[order[p - 1]].score < s) {
          order[p] = order[p - 1];
          p--;
        }
        order[p] = i;
      }
    }
    const reasons = out.reasons;
    const sources = out.sources;
    if (learning) {
      out.score = 0;
      out.expected = NaN;
      out.lower = NaN;
      out.upper = NaN;
      out.learning = true;
      out.outside = false;
      setOne(reasons, sources, 'learning', '');
      return out;
    }
    out.learning = false;
    out.score = best;
    // The band: the first model past learning, in entry order.
    let band = -1;
    if (only === null) {
      const models = this.#models;
      for (let m = 0; m < models.length; m++) {
        const v = sc[models[m]];
        if (v.reason !== 'learning' && v.expected === v.expected) {
          band = models[m];
          break;
        }
      }
    }
    if (band >= 0) {
      const v = sc[band];
      out.expected = v.expected;
      out.lower = v.lower;
      out.upper = v.upper;
      // As float32, the precision novelty keeps values in: the kernel's path reads the value back
      // from novelty's block, and both paths must agree to the bit.
      out.outside = outsideBand(Math.fround(judged), v.lower, v.upper);
    } else {
      out.expected = NaN;
      out.lower = NaN;
      out.upper = NaN;
      out.outside = false;
    }
    if (k === 0) {
      setOne(reasons, sources, 'normal', band >= 0 ? this.#names[band] : '');
      return out;
    }
    if (reasons.length !== k) reasons.length = k;
    if (sources.length !== k) sources.length = k;
    for (let j = 0; j < k; j++) {
      const i = order[j];
      reasons[j] = sc[i].reason;
      sources[j] = this.#names[i];
    }
    return out;
  }
}

/** `x` lies below `lower` or above `upper` (a NaN value, or a NaN bound on its side, is not outside). */
function outsideBand(x: number, lower: number, upper: number): boolean {
  return x < lower || x > upper;
}

function setOne(reasons: FusedVerdict['reasons'], sources: string[], reason: FusedVerdict['reasons'][number], source: string): void {
  if (reasons.length !== 1) reasons.length = 1;
  if (sources.length !== 1) sources.length = 1;
  // Most points repeat the last point's 'normal' and source: compare instead of storing again.
  if (reasons[0] !== reason) reasons[0] = reason;
  if (sources[0] !== source) sources[0] = source;
}

/**
 * Compiles a detector set: validates every entry once (unknown names, unknown or invalid
 * options throw a TidemarkError whose path is `detectors[i]...`), then returns a set whose
 * `init()` makes the state of one series and `update()` judges one point.
 * No entries (undefined or an empty list) gives the DEFAULT_PROFILE. `options.region: false`
 * keeps each detector's state apart even where all of them could share one region (for tests
 * that hold the two layouts to the same verdicts).
 * @example
 *   const set = createDetectorSet([{ name: 'robust_z', config: { window: 32 } }]);
 *   const state = set.init();
 *   const v = set.update(state, Date.now(), 42, newFusedVerdict());
 */
export function createDetectorSet(entries?: readonly DetectorEntry[], options: { region?: boolean } = {}): DetectorSet<SetState> {
  const list = entries === undefined || entries.length === 0 ? DEFAULT_PROFILE : entries;
  if (!Array.isArray(list)) throw new TidemarkError('TM_ERR_CONFIG', 'expected a list of {name, config} entries', 'detectors');
  const dets: AnyDetector[] = [];
  const configs: Readonly<unknown>[] = [];
  const frozen: DetectorEntry[] = [];
  list.forEach((e: unknown, i: number) => {
    const at = `detectors[${i}]`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new TidemarkError('TM_ERR_CONFIG', 'expected {name, config}', at);
    for (const key of Object.keys(e)) {
      if (key !== 'name' && key !== 'config') throw new TidemarkError('TM_ERR_CONFIG', `unknown key '${key}'; valid keys: name, config`, `${at}.${key}`);
    }
    const { name, config } = e as DetectorEntry;
    if (typeof name !== 'string') throw new TidemarkError('TM_ERR_CONFIG', 'expected a detector name', `${at}.name`);
    const d = getDetector(name, `${at}.name`);
    configs.push(d.parseConfig(config, `${at}.config`));
    dets.push(d);
    frozen.push(Object.freeze(config === undefined ? { name } : { name, config }));
  });
  return new CompiledSet(Object.freeze(frozen), dets, configs, options.region !== false);
}
