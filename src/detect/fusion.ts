/**
 * Detector sets: one compiled list of detectors (validated once) whose verdicts for a point
 * are fused into one score, one band and the reasons behind them.
 *
 * Per point, the rules run first on the raw value, in entry order; a rule may condition what
 * the models see (counter_reset hands them a counter's rate, unit_change asks them to rescale).
 * Then the models run on the conditioned value. Fusion:
 * - score: the highest score of any detector. Every detector is calibrated alike (0.5
 *   unusual, 0.9 clearly anomalous), so the maximum keeps that meaning, and one clear
 *   witness is enough.
 * - reasons/sources: every detector scoring at least REPORT_MIN (0.3), strongest first (ties
 *   in entry order); 'normal' alone, from the band's detector, when none does.
 * - band (expected/lower/upper): from the first model in entry order that is past learning,
 *   so the band the UI draws does not jump between detectors from point to point.
 * - learning: true, with score 0, while every detector is still learning.
 */
import { TidemarkError } from '../errors.ts';
import { REPORT_MIN } from './define.ts';
import { getDetector } from './registry.ts';
import type { Conditioning, Detector, DetectorEntry, DetectorSet, FusedVerdict, Verdict } from './types.ts';
import { newVerdict } from './types.ts';

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
 * Memory: about 3.9 KB per series by `stateBytes` (novelty 2.5 KB, weekly_shift 0.68 KB,
 * new_level 0.11 KB, the rules 0.57 KB); detect.bench.ts prints the retained heap (~4.05 KB).
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

type AnyDetector = Detector<unknown, unknown>;

class CompiledSet implements DetectorSet<unknown[]> {
  readonly entries: readonly DetectorEntry[];
  readonly #dets: AnyDetector[];
  readonly #configs: Readonly<unknown>[];
  readonly #names: string[];
  readonly #rules: number[];
  readonly #models: number[];
  readonly #ticking: number[];
  readonly #touching: number[];
  /** One verdict per detector, reused for every point of every series. */
  readonly #scratch: Verdict[];
  readonly #order: Int32Array;
  readonly #cond: Conditioning = { value: NaN, factor: 1, relearn: false };

  constructor(entries: readonly DetectorEntry[], dets: AnyDetector[], configs: Readonly<unknown>[]) {
    this.entries = entries;
    this.#dets = dets;
    this.#configs = configs;
    this.#names = dets.map((d) => d.name);
    this.#rules = [];
    this.#models = [];
    this.#ticking = [];
    this.#touching = [];
    dets.forEach((d, i) => {
      if (d.touch) this.#touching.push(i);
      (d.kind === 'rule' ? this.#rules : this.#models).push(i);
      if (d.tick) this.#ticking.push(i);
    });
    this.#scratch = dets.map(() => newVerdict());
    this.#order = new Int32Array(dets.length);
  }

  init(): unknown[] {
    return this.#dets.map((d, i) => d.init(this.#configs[i]));
  }

  update(state: unknown[], t: number, value: number, out: FusedVerdict): FusedVerdict {
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
      d.update(state[i], t, value, sc[i]);
      if (d.condition !== undefined) d.condition(state[i], c);
    }
    if (c.relearn || c.factor !== 1) this.#recondition(state, c);
    const models = this.#models;
    const v = c.value;
    for (let m = 0; m < models.length; m++) {
      const i = models[m];
      dets[i].update(state[i], t, v, sc[i]);
    }
    return this.#fuse(out, dets.length, null);
  }

  tick(state: unknown[], now: number, out: FusedVerdict): FusedVerdict {
    const ticking = this.#ticking;
    for (let k = 0; k < ticking.length; k++) {
      const i = ticking[k];
      (this.#dets[i].tick as NonNullable<AnyDetector['tick']>)(state[i], now, this.#scratch[i]);
    }
    return this.#fuse(out, ticking.length, ticking);
  }

  check(state: unknown): void {
    const dets = this.#dets;
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

  /** Applies a rule's request: rescale the models (or re-init those that cannot), or re-init all. */
  #recondition(state: unknown[], c: Conditioning): void {
    for (const i of this.#models) {
      const d = this.#dets[i];
      if (!c.relearn && c.factor > 0 && Number.isFinite(c.factor) && d.rescale) d.rescale(state[i], c.factor);
      else state[i] = d.init(this.#configs[i]);
    }
  }

  /** Fuses the scratch verdicts of `count` detectors (all, or those listed in `only`). */
  #fuse(out: FusedVerdict, count: number, only: number[] | null): FusedVerdict {
    const sc = this.#scratch;
    const order = this.#order;
    let best = 0;
    let learning = count > 0;
    let k = 0;
    for (let j = 0; j < count; j++) {
      const i = only === null ? j : only[j];
      const v = sc[i];
      if (v.reason !== 'learning') learning = false;
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
    } else {
      out.expected = NaN;
      out.lower = NaN;
      out.upper = NaN;
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

function setOne(reasons: FusedVerdict['reasons'], sources: string[], reason: FusedVerdict['reasons'][number], source: string): void {
  if (reasons.length !== 1) reasons.length = 1;
  if (sources.length !== 1) sources.length = 1;
  reasons[0] = reason;
  sources[0] = source;
}

/**
 * Compiles a detector set: validates every entry once (unknown names, unknown or invalid
 * options throw a TidemarkError whose path is `detectors[i]...`), then returns a set whose
 * `init()` makes the state of one series and `update()` judges one point.
 * No entries (undefined or an empty list) gives the DEFAULT_PROFILE.
 * @example
 *   const set = createDetectorSet([{ name: 'robust_z', config: { window: 32 } }]);
 *   const state = set.init();
 *   const v = set.update(state, Date.now(), 42, newFusedVerdict());
 */
export function createDetectorSet(entries?: readonly DetectorEntry[]): DetectorSet<unknown[]> {
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
  return new CompiledSet(Object.freeze(frozen), dets, configs);
}
