/**
 * The default profile's whole point in one call: the four rules, novelty (./novelty.ts),
 * weekly_shift and new_level, and their fusion, step for step as `src/detect/` does them, on
 * a series' region in place. The build's entry point (`npm run build:wasm`).
 *
 * Why: with novelty alone compiled, each point still made six detector calls in JS, each with
 * its verdict object, the set's conditioning and its fusion (~40% of the default set's time
 * at 10,000 series). Here they are a few dozen loads and stores on the region novelty already
 * brought into cache.
 *
 * The same contract as novelty's kernel: bit-identical to the JS path (same operations in the
 * same order on the same float32/float64 values; transcendental functions imported from JS),
 * and the JS path stays for everything else. Every case not handled is detected before
 * anything is written, so a decline leaves the region as it was:
 * - the rules: a non-finite value, an impossible value, no_data seeing a silence (more than 1.5
 *   learned intervals) or a repeated or out-of-order timestamp, counter_reset learning (its first
 *   `learnPoints` points) or seeing a counter go down, unit_change warming up (8 points) or
 *   seeing a magnitude beyond `minFactor` of its reference;
 * - novelty: its own kernel's cases (among them its first window of points);
 * - weekly_shift in another layout (a checkpoint of an older build).
 * weekly_shift and new_level are handled learning or not, so a new series is judged here from
 * novelty's first full window on.
 * `src/detect/novelty-kernel.test.ts` holds the two paths to equal verdicts and states.
 *
 * Returns 1: not handled, nothing changed. 0: judged and fused, no detector at REPORT_MIN or
 * above: FUSED holds score, expected, lower, upper (the band is novelty's). 2: judged, some
 * detector reports: VERDICTS holds each detector's verdict (novelty's in OUT) for the JS fusion.
 *
 * Copies of the detectors' constants (AssemblyScript cannot import the TS modules): the
 * equality tests hold them together.
 */
import { HILL_90, floatsMedian, sd, setd, update as noveltyUpdate, OUT } from './novelty';
export { update, OUT, Z_EDGE } from './novelty';

@external('env', 'log10') declare function jlog10(x: f64): f64;
@external('env', 'log2') declare function jlog2(x: f64): f64;
@external('env', 'round') declare function jround(x: f64): f64;

/** Fixed addresses in the arena's reserved first 64 KiB (after novelty's, which end at 1960). */
export const VERDICTS: usize = 2048; // 7 x [score, expected, lower, upper, reason code]
export const FUSED: usize = 2336; // score, expected, lower, upper
const IV_SCRATCH: usize = 2400; // 16 doubles: no_data's interval median
export const FRAC: usize = 4096; // 2048 doubles: weekly_shift's 2^(j / 2048), written by JS
export const OCTAVE: usize = 20480; // 33 doubles: 2^k for k in [-16, 16], written by JS

/** Reason codes (src/detect/fusion.ts maps them back). */
const R_NORMAL: f64 = 0;
const R_LEARNING: f64 = 1;
const R_SPIKE: f64 = 2;
const R_DIP: f64 = 3;
const R_DROP: f64 = 4;
const R_DRIFT_UP: f64 = 5;
const R_DRIFT_DOWN: f64 = 6;

const REPORT_MIN: f64 = 0.3;

@inline function verdict(i: i32, score: f64, expected: f64, lower: f64, upper: f64, reason: f64): void {
  const p = VERDICTS + <usize>i * 40;
  store<f64>(p, score);
  store<f64>(p + 8, expected);
  store<f64>(p + 16, lower);
  store<f64>(p + 24, upper);
  store<f64>(p + 32, reason);
}
@inline function hill(x: f64, half: f64): f64 {
  const r = x / half;
  const r2 = r * r;
  const r4 = r2 * r2;
  return r4 / (1 + r4);
}

// ---- impossible_value (options only: MIN, MAX, NAN_BAD) ----

// ---- no_data ----
const ND_FACTOR = 0;
const ND_MIN_DELTAS = 1;
const ND_STUCK_MIN = 2;
const IV_N = 3;
const IV_LAST = 4;
const IV_INTERVAL = 5;
const ND_POINTS = 6;
const ND_LAST_V = 8;
const ND_RUN = 9;
const ND_REPEATS = 10;
const ND_REPEATS_BEFORE = 11;
const ND_STUCK_NOW = 12;
const ND_DOWNS = 13;
const ND_TABLE = 14;
const ND_MEMORY: f64 = 3000;
const STUCK_POINTS: f64 = 6;
const STUCK_REPEATS: f64 = 0.01;
const STUCK_WARM: f64 = 500;

// ---- counter_reset ----
const CR_MODE = 2;
const CR_N = 3;
const CR_LAST_T = 4;
const CR_LAST_X = 5;
const CR_FEED = 8;
const CR_RELEARN = 9;
const GAUGE: f64 = 1;
const COUNTER: f64 = 2;

// ---- unit_change ----
const UC_MIN_FACTOR = 0;
const UC_N = 4;
const UC_REF = 5;
const UC_RUN = 6;
const UC_FACTOR_OUT = 8;
const UC_LOG_M = 9;
const UC_LOG_S = 10;
const UC_LOG_HI = 11;
const UC_LOG_LO = 12;
const UC_WARM: f64 = 8;
const UC_MATURE: f64 = 100;
const REF_ALPHA: f64 = 1.0 / 32;
const FORGET: f64 = 1e-3;

// ---- weekly_shift ----
const WS_TAU_S = 0;
const WS_K = 1;
const WS_H = 2;
const WS_CLIP = 3;
const WS_TAU_OFF = 4;
const WS_TAU_DEV = 5;
const WS_ACCEPT_MS = 6;
const WS_CUR = 7;
const WS_SUM = 8;
const WS_CNT = 9;
const WS_PREV = 10;
const WS_LAST_T = 11;
const WS_KNOWN = 12;
const WS_SMOOTH = 13;
const WS_OFF = 14;
const WS_DEV = 15;
const WS_UP = 16;
const WS_DOWN = 17;
const WS_SINCE = 18;
const WS_DEV_PT = 19;
const WS_PPH = 20;
const WS_UNIT = 21;
const WS_HERE = 22;
const WS_NEXT = 23;
const WS_RAW = 24;
const WS_LVL = 25;
const WS_UP_FROM = 26;
const WS_DOWN_FROM = 27;
const WS_LAYOUT = 28;
const WS_LAYOUT_VERSION: f64 = 6;
const WS_QUANTUM = 29;
const WS_LAST_X = 30;
const WS_DEV_ABS = 31;
const WS_TABLE = 32;
const BUILD_HOURS: f64 = 12;
const HOUR_BAND: f64 = 1;
const HOUR: f64 = 3600000;
const SLOTS: i64 = 168;
const OFFSET_WARM: f64 = 2 * HOUR;
const SPREAD_WARM: f64 = 24 * HOUR;
const SPREAD_MIN: f64 = 6 * HOUR;
const MIN_PPH: f64 = 4;
const FLOOR: f64 = 0.003;
const SPREAD_UNSURE: f64 = 3 * HOUR;
const UNSEEN = -32768;
const NOT_POSITIVE = -32767;
const Q: f64 = 2048;
const Q_MAX: f64 = 32767;

// ---- new_level ----
const NL_LEARN = 0;
const NL_LEARN_MS = 1;
const NL_LEVELS = 2;
const NL_REST = 3;
const NL_LO = 4;
const NL_HI = 5;
const NL_N = 6;
const NL_T0 = 7;
const NL_SINCE = 8;
const NL_SEEN = 9;
const BELOW = 8;
const TOP = 31;

/**
 * Descriptor (doubles at D): each detector's block offset in the region in bytes (negative where
 * its leading options are not stored, as fusion.ts' #vo: word k of the block is at R + offset + 8k),
 * then its options' byte address.
 */
const DETS = 7;
const IMP = 0;
const ND = 1;
const CR = 2;
const UC = 3;
const NOV = 4;
const WS = 5;
const NL = 6;

/**
 * One point of the default profile: the region at R (its descriptor at D), time t, value x.
 */
export function updateSet(R: usize, D: usize, t: f64, x: f64): i32 {
  if (x != x || x == Infinity || x == -Infinity) return 1;
  const Fnd = R + <usize><i32>sd(D, ND);
  const Fcr = R + <usize><i32>sd(D, CR);
  const Fuc = R + <usize><i32>sd(D, UC);
  const Fws = R + <usize><i32>sd(D, WS);
  const Fnl = R + <usize><i32>sd(D, NL);
  const Gimp = <usize>sd(D, DETS + IMP);
  const Gnd = <usize>sd(D, DETS + ND);
  const Guc = <usize>sd(D, DETS + UC);
  const Gws = <usize>sd(D, DETS + WS);
  const Gnl = <usize>sd(D, DETS + NL);

  // impossible_value: a value outside the limits reports (score 1): left to JS.
  const lo = sd(Gimp, 0);
  const hi = sd(Gimp, 1);
  if (x < lo || x > hi) return 1;

  // no_data: handled while the interval is learned and the point comes within 1.5 intervals.
  const interval = sd(Fnd, IV_INTERVAL);
  const last = sd(Fnd, IV_LAST);
  const ndLearning = sd(Fnd, IV_N) < sd(Gnd, ND_MIN_DELTAS) || !(interval > 0);
  if (!ndLearning && (t - last) / interval > 1.5) return 1;
  if (!(t > last)) return 1;
  // no_data's stuck value (no-data.ts' stuck): a repeat that could be one is left to JS.
  if (x == sd(Fnd, ND_LAST_V) && x != 0 && sd(Gnd, ND_STUCK_MIN) > 0 && sd(Fnd, ND_POINTS) >= STUCK_WARM && sd(Fnd, ND_REPEATS_BEFORE) <= STUCK_REPEATS && sd(Fnd, ND_RUN) + 1 >= STUCK_POINTS) return 1;

  // counter_reset: a gauge, or a counter going up by a finite rate.
  const mode = sd(Fcr, CR_MODE);
  let v = x;
  let crLower: f64 = NaN;
  if (mode == COUNTER) {
    const lastX = sd(Fcr, CR_LAST_X);
    const d = x - lastX;
    if (!(d >= 0)) return 1;
    const dt = (t - sd(Fcr, CR_LAST_T)) / 1000;
    if (!(dt > 0)) return 1;
    v = d / dt;
    if (v == Infinity) return 1;
    crLower = lastX;
  } else if (mode != GAUGE) return 1;

  // unit_change (judging the models' value, as fusion.ts has it): warm, and a magnitude within
  // `minFactor` of the reference (or zero).
  const ax = v < 0 ? -v : v;
  const ucN = sd(Fuc, UC_N);
  if (ax > 0) {
    if (ucN < UC_WARM) return 1;
    const ref = sd(Fuc, UC_REF);
    const minF = sd(Guc, UC_MIN_FACTOR);
    if (!((ax < ref * minF && ax * minF > ref) || ucN < UC_MATURE)) return 1;
  }

  // weekly_shift: its layout.
  if (sd(Fws, WS_LAYOUT) != WS_LAYOUT_VERSION) return 1;

  // Novelty last of the checks: it judges (and writes) when it handles the point.
  const Gnov = <usize>sd(D, DETS + NOV);
  if (noveltyUpdate(R + <usize><i32>sd(D, NOV), Gnov, t, v) != 0) return 1;

  // From here on every detector judges; nothing declines.
  verdict(IMP, 0, NaN, lo == -Infinity ? NaN : lo, hi == Infinity ? NaN : hi, R_NORMAL);
  noData(Fnd, t, x, ndLearning);
  // counter_reset
  setd(Fcr, CR_RELEARN, 0);
  setd(Fcr, CR_LAST_T, t);
  setd(Fcr, CR_LAST_X, x);
  setd(Fcr, CR_N, sd(Fcr, CR_N) + 1);
  setd(Fcr, CR_FEED, v);
  verdict(CR, 0, NaN, crLower, NaN, R_NORMAL);
  unitChange(Fuc, v, ax, ucN);
  verdict(NOV, load<f64>(OUT), NaN, NaN, NaN, R_NORMAL); // for the maximum below; JS builds novelty's own
  weeklyShift(Fws, Gws, t, v);
  newLevel(Fnl, Gnl, t, v);

  let best: f64 = 0;
  for (let i = 0; i < DETS; i++) {
    const s = load<f64>(VERDICTS + <usize>i * 40);
    if (s > best) best = s;
  }
  if (best >= REPORT_MIN) return 2;
  const m = load<f64>(OUT + 8);
  const sc = load<f64>(OUT + 16);
  store<f64>(FUSED, best);
  store<f64>(FUSED + 8, m);
  store<f64>(FUSED + 16, m - 4 * sc);
  store<f64>(FUSED + 24, m + 4 * sc);
  return 0;
}

/** no_data's judging and interval learning for a point within 1.5 intervals (or while learning). */
function noData(F: usize, t: f64, x: f64, learning: bool): void {
  verdict(ND, 0, NaN, NaN, NaN, learning ? R_LEARNING : R_NORMAL);
  // The stuck value's running state (no-data.ts' stuck, for a point that is not stuck).
  const np = sd(F, ND_POINTS);
  const lastV = sd(F, ND_LAST_V);
  const repeat = x == lastV;
  const rep = sd(F, ND_REPEATS);
  const weight = np + 1 < ND_MEMORY ? np + 1 : ND_MEMORY;
  if (!repeat && lastV == lastV) {
    setd(F, ND_REPEATS_BEFORE, rep);
    const downs = sd(F, ND_DOWNS);
    setd(F, ND_DOWNS, downs + ((x < lastV ? 1.0 : 0.0) - downs) / weight);
  }
  setd(F, ND_REPEATS, rep + ((repeat ? 1.0 : 0.0) - rep) / weight);
  setd(F, ND_LAST_V, x);
  setd(F, ND_RUN, repeat ? sd(F, ND_RUN) + 1 : 1);
  setd(F, ND_STUCK_NOW, 0);
  setd(F, ND_POINTS, np + 1);
  // intervalObserve (series/interval.ts); t > last was checked.
  const last = sd(F, IV_LAST);
  setd(F, IV_LAST, t);
  const n = sd(F, IV_N);
  const ring = F + (<usize>ND_TABLE << 3);
  store<f32>(ring + ((<usize>(<i64>n) & 15) << 2), <f32>(t - last));
  setd(F, IV_N, n + 1);
  const n1 = <i64>(n + 1);
  if (n + 1 <= 16 || (n1 & 3) == 0) {
    setd(F, IV_INTERVAL, floatsMedian(ring, n + 1 < 16 ? <i32>(n + 1) : 16, IV_SCRATCH));
  }
}

/** unit_change's ordinary-magnitude path (the checks in updateSet): learned, factor 1. */
function unitChange(F: usize, x: f64, ax: f64, n: f64): void {
  setd(F, UC_FACTOR_OUT, 1);
  if (!(ax > 0)) {
    if (x == 0) setd(F, UC_RUN, 0);
    verdict(UC, 0, NaN, NaN, NaN, n < UC_WARM ? R_LEARNING : R_NORMAL);
    return;
  }
  const lx = jlog10(ax);
  setd(F, UC_N, n + 1);
  const ref = sd(F, UC_REF);
  setd(F, UC_RUN, 0);
  setd(F, UC_REF, ref + REF_ALPHA * (ax - ref));
  const e = lx - sd(F, UC_LOG_M);
  setd(F, UC_LOG_M, sd(F, UC_LOG_M) + REF_ALPHA * e);
  setd(F, UC_LOG_S, sd(F, UC_LOG_S) + REF_ALPHA * ((e < 0 ? -e : e) - sd(F, UC_LOG_S)));
  const hi = sd(F, UC_LOG_HI);
  setd(F, UC_LOG_HI, lx > hi - FORGET ? lx : hi - FORGET);
  const lo = sd(F, UC_LOG_LO);
  setd(F, UC_LOG_LO, lx < lo + FORGET ? lx : lo + FORGET);
  verdict(UC, 0, NaN, NaN, NaN, R_NORMAL);
}

// ---- weekly_shift ----

@inline function wsSlot(F: usize, i: i32): i32 {
  return <i32>load<u16>(F + (<usize>WS_TABLE << 3) + (<usize>i << 1)) - 32768;
}
@inline function wsHourSlot(a: f64): i32 {
  let i = <i32>(<i64>a % SLOTS);
  return i < 0 ? i + <i32>SLOTS : i;
}
function wsDecode(F: usize, q: i32): f64 {
  if (q == UNSEEN) return NaN;
  if (q == NOT_POSITIVE) return 0;
  return sd(F, WS_UNIT) * load<f64>(OCTAVE + (<usize>((q >> 11) + 16) << 3)) * load<f64>(FRAC + (<usize>(q & 2047) << 3));
}
function wsEncode(F: usize, mean: f64): i32 {
  if (!(mean > 0)) return NOT_POSITIVE;
  if (!(sd(F, WS_UNIT) > 0)) setd(F, WS_UNIT, mean);
  const q = jround(Q * jlog2(mean / sd(F, WS_UNIT)));
  return q > Q_MAX ? <i32>Q_MAX : q < -Q_MAX + 1 ? <i32>(-Q_MAX + 1) : <i32>q;
}
@inline function wsSetSlot(F: usize, i: i32, q: i32): void {
  store<u16>(F + (<usize>WS_TABLE << 3) + (<usize>i << 1), <u16>(q + 32768));
}
/** weekly-shift.ts' hourMean. */
function wsHourMean(F: usize, last: f64): f64 {
  const mean = sd(F, WS_SUM) / sd(F, WS_CNT);
  if (!(sd(F, WS_KNOWN) >= SPREAD_MIN) || !(last > 0)) return mean;
  const expected = last * (1 + sd(F, WS_OFF));
  let b = HOUR_BAND * 1.2533 * sd(F, WS_DEV);
  if (b < HOUR_BAND * FLOOR) b = HOUR_BAND * FLOOR;
  return mean > expected * (1 + b) ? expected * (1 + b) : mean < expected * (1 - b) ? expected * (1 - b) : mean;
}
/** weekly-shift.ts' rescaleTable. */
function wsRescaleTable(F: usize, factor: f64): void {
  setd(F, WS_UNIT, sd(F, WS_UNIT) * factor);
  setd(F, WS_PREV, sd(F, WS_PREV) * factor);
  const cur = sd(F, WS_CUR);
  if (cur == cur) {
    setd(F, WS_HERE, wsDecode(F, wsSlot(F, wsHourSlot(cur))));
    setd(F, WS_NEXT, wsDecode(F, wsSlot(F, wsHourSlot(cur + 1))));
  }
}
/** weekly-shift.ts' learnPointNoise. */
@inline function wsLearnPointNoise(F: usize, w: f64, a: f64, ref: f64): void {
  setd(F, WS_DEV_PT, sd(F, WS_DEV_PT) + w * (a - sd(F, WS_DEV_PT)));
  setd(F, WS_DEV_ABS, sd(F, WS_DEV_ABS) + w * (a * ref - sd(F, WS_DEV_ABS)));
}
/** weekly-shift.ts' clipBand. */
@inline function wsClipBand(clip: f64, devPt: f64): f64 {
  return clip * 1.2533 * (devPt > 1e-9 ? devPt : 1e-9);
}
@inline function wsIdle(F: usize): void {
  const known = sd(F, WS_KNOWN);
  verdict(WS, 0, NaN, NaN, NaN, known >= OFFSET_WARM && known >= SPREAD_MIN ? R_NORMAL : R_LEARNING);
}

function weeklyShift(F: usize, G: usize, t: f64, x: f64): void {
  const a = Math.floor(t / HOUR);
  let cur = sd(F, WS_CUR);
  if (a < cur) return wsIdle(F);
  // The data's resolution (series/resolution.ts' finerResolution).
  const lastX = sd(F, WS_LAST_X);
  const moved = x > lastX ? x - lastX : lastX - x;
  if (moved > 0 && moved < sd(F, WS_QUANTUM)) setd(F, WS_QUANTUM, moved);
  setd(F, WS_LAST_X, x);
  if (a != cur) {
    if (cur == cur) {
      const i = wsHourSlot(cur);
      const last = wsDecode(F, wsSlot(F, i));
      setd(F, WS_PREV, a == cur + 1 ? last : NaN);
      // A reported shift's hours are no reference (weekly-shift.ts).
      if (sd(F, WS_SINCE) == sd(F, WS_SINCE)) wsSetSlot(F, i, UNSEEN);
      else if (sd(F, WS_CNT) > 0) wsSetSlot(F, i, wsEncode(F, wsHourMean(F, last)));
      setd(F, WS_PPH, sd(F, WS_PPH) + 0.05 * (sd(F, WS_CNT) - sd(F, WS_PPH)));
    }
    setd(F, WS_CUR, a);
    cur = a;
    setd(F, WS_SUM, 0);
    setd(F, WS_CNT, 0);
    setd(F, WS_HERE, wsDecode(F, wsSlot(F, wsHourSlot(a))));
    setd(F, WS_NEXT, wsDecode(F, wsSlot(F, wsHourSlot(a + 1))));
  }
  // An outage: out of the CUSUM and the hour's mean (weekly-shift.ts).
  if (x == 0 && sd(F, WS_HERE) > 0 && sd(F, WS_KNOWN) >= OFFSET_WARM) {
    if (1 + sd(F, WS_OFF) > wsClipBand(sd(G, WS_CLIP), sd(F, WS_DEV_PT))) return wsIdle(F);
  }
  setd(F, WS_SUM, sd(F, WS_SUM) + x);
  setd(F, WS_CNT, sd(F, WS_CNT) + 1);
  const frac = (t - a * HOUR) / HOUR - 0.5;
  const here = sd(F, WS_HERE);
  const other = frac >= 0 ? sd(F, WS_NEXT) : sd(F, WS_PREV);
  const ref = other == other && other > 0 ? here + (other - here) * (frac >= 0 ? frac : -frac) : here;
  if (!(ref > 0) || x < 0 || sd(F, WS_PPH) < MIN_PPH) return wsIdle(F);
  const r = x / ref - 1;
  const lastT = sd(F, WS_LAST_T);
  if (!(t > lastT) && lastT == lastT) return wsIdle(F);
  setd(F, WS_LAST_T, t);
  if (lastT != lastT) {
    setd(F, WS_SMOOTH, r);
    setd(F, WS_OFF, r);
    setd(F, WS_RAW, r);
    setd(F, WS_LVL, r);
    setd(F, WS_KNOWN, 0);
    setd(F, WS_UP, 0);
    setd(F, WS_DOWN, 0);
    // KNOWN is now 0: idle() is 'learning'.
    verdict(WS, 0, NaN, NaN, NaN, R_LEARNING);
    return;
  }
  let dt = t - lastT;
  const tauS = sd(G, WS_TAU_S);
  if (dt > tauS) dt = tauS;
  const known = sd(F, WS_KNOWN) + dt;
  setd(F, WS_KNOWN, known);
  const spreadKnown = known;
  let off = sd(F, WS_OFF);
  let dev = sd(F, WS_DEV);
  const devPt = sd(F, WS_DEV_PT);
  // weekly-shift.ts' quotients (the same divisions and root: the same doubles).
  const qAl = dt / tauS;
  const qRoot = Math.sqrt(qAl / (2 - (qAl < 1 ? qAl : 1)));
  const qDev = dt / sd(G, WS_TAU_DEV);
  const qOff = dt / sd(G, WS_TAU_OFF);
  const qStep = dt / HOUR;
  let s = 1.2533 * dev;
  const sdAvg = 1.2533 * devPt * qRoot;
  if (s < sdAvg) s = sdAvg;
  // The points' noise in the data's units (weekly-shift.ts).
  const sdAbs = (1.2533 * sd(F, WS_DEV_ABS) * qRoot) / ref;
  if (s < sdAbs) s = sdAbs;
  if (s < FLOOR) s = FLOOR;
  // Poisson noise of counts in units of the data's resolution (weekly-shift.ts).
  const q = sd(F, WS_QUANTUM);
  if (q != Infinity) {
    const counted = Math.sqrt(q / ref) * qRoot;
    if (s < counted) s = counted;
  }
  s *= 1 + SPREAD_UNSURE / spreadKnown;
  const c = spreadKnown >= OFFSET_WARM ? wsClipBand(sd(G, WS_CLIP), devPt) : Infinity;
  let e = r - off;
  const ae = e < 0 ? -e : e;
  if (ae > c) {
    e = e > 0 ? c : -c;
    // The hour's mean takes the point clipped too (weekly-shift.ts).
    if (sd(F, WS_SINCE) != sd(F, WS_SINCE)) setd(F, WS_SUM, sd(F, WS_SUM) + (ref * (1 + off + e) - x));
  }
  let sm = sd(F, WS_SMOOTH);
  sm += qAl * (off + e - sm);
  setd(F, WS_SMOOTH, sm);
  const raw = sd(F, WS_RAW) + qAl * (r - sd(F, WS_RAW));
  setd(F, WS_RAW, raw);
  const lvl = sd(F, WS_LVL) + qOff * (r - sd(F, WS_LVL));
  setd(F, WS_LVL, lvl);
  const d = sm - off;
  const ad = d < 0 ? -d : d;
  const w = spreadKnown < SPREAD_WARM ? dt / spreadKnown : qDev;
  if (known < OFFSET_WARM || spreadKnown < SPREAD_MIN) {
    off += (known < OFFSET_WARM ? dt / known : qOff) * (r - off);
    dev += w * ((ad < 4 * s || spreadKnown < SPREAD_MIN ? ad : 4 * s) - dev);
    wsLearnPointNoise(F, w, ae < c ? ae : c, ref);
    setd(F, WS_OFF, off);
    setd(F, WS_DEV, dev);
    verdict(WS, 0, NaN, NaN, NaN, R_LEARNING);
    return;
  }
  const z = d / s;
  const k = sd(G, WS_K);
  const h = sd(G, WS_H);
  let up = sd(F, WS_UP) + (z - k) * qStep;
  let down = sd(F, WS_DOWN) + (-z - k) * qStep;
  up = up > 0 ? (up < 2 * h ? up : 2 * h) : 0;
  down = down > 0 ? (down < 2 * h ? down : 2 * h) : 0;
  if (up > 0 && !(sd(F, WS_UP) > 0)) setd(F, WS_UP_FROM, t);
  if (down > 0 && !(sd(F, WS_DOWN) > 0)) setd(F, WS_DOWN_FROM, t);
  let score: f64 = 0;
  const since = sd(F, WS_SINCE);
  const reported = since == since;
  if (!reported && (up >= h || down >= h)) {
    setd(F, WS_SINCE, t);
    // The hours from the shift's start to its report: unseen (weekly-shift.ts).
    const from = Math.floor((up > down ? sd(F, WS_UP_FROM) : sd(F, WS_DOWN_FROM)) / HOUR);
    for (let b = from > a - BUILD_HOURS ? from : a - BUILD_HOURS; b < a; b++) wsSetSlot(F, wsHourSlot(b), UNSEEN);
    score = hill(up > down ? up : down, h / HILL_90);
  } else if (reported && up < h / 2 && down < h / 2) {
    // The shift passed; after a long report the offset and spread are learned again (weekly-shift.ts).
    if (t - since >= 2 * sd(G, WS_TAU_OFF)) setd(F, WS_KNOWN, 0);
    setd(F, WS_SINCE, NaN);
  } else if (reported && t - since >= sd(G, WS_ACCEPT_MS) && ((raw - lvl < 0 ? lvl - raw : raw - lvl) <= s || t - since >= 2 * sd(G, WS_ACCEPT_MS))) {
    // Accepted: the table rescaled to the new level (weekly-shift.ts).
    const m = (1 + lvl) / (1 + off);
    if (m > 0) {
      wsRescaleTable(F, m);
      const raw2 = (1 + raw) / m - 1;
      setd(F, WS_RAW, raw2);
      setd(F, WS_LVL, off);
      const e2 = raw2 - off;
      setd(F, WS_SMOOTH, off + (e2 > c ? c : e2 < -c ? -c : e2));
    }
    setd(F, WS_SINCE, NaN);
    up = 0;
    down = 0;
  }
  if (sd(F, WS_SINCE) != sd(F, WS_SINCE) && up < h / 2 && down < h / 2) {
    off += qOff * d;
    dev += w * ((ad < 4 * s ? ad : 4 * s) - dev);
    wsLearnPointNoise(F, w, ae < c ? ae : c, ref);
  }
  setd(F, WS_OFF, off);
  setd(F, WS_DEV, dev);
  setd(F, WS_UP, up);
  setd(F, WS_DOWN, down);
  const expected = ref * (1 + off);
  const band = ref * sd(G, WS_CLIP) * s;
  verdict(WS, score, expected, expected - band, expected + band, score > 0 ? (up > down ? R_DRIFT_UP : R_DRIFT_DOWN) : R_NORMAL);
}

// ---- new_level ----

function newLevel(F: usize, G: usize, t: f64, x: f64): void {
  const lo = sd(F, NL_LO);
  const hi = sd(F, NL_HI);
  const seen = sd(F, NL_SEEN); // 0 while learning
  if (seen == 0) {
    if (x < lo) setd(F, NL_LO, x);
    if (x > hi) setd(F, NL_HI, x);
    if (sd(F, NL_T0) != sd(F, NL_T0)) setd(F, NL_T0, t);
    const learn = sd(G, NL_LEARN);
    if (sd(F, NL_N) < learn) setd(F, NL_N, sd(F, NL_N) + 1);
    if (sd(F, NL_N) >= learn && t - sd(F, NL_T0) >= sd(G, NL_LEARN_MS)) {
      let mask: f64 = 0;
      const levels = <i32>sd(G, NL_LEVELS);
      for (let k = 0; k <= levels; k++) mask += <f64>(<u64>1 << <u64>(BELOW + k));
      setd(F, NL_SEEN, mask);
    }
    verdict(NL, 0, NaN, NaN, NaN, R_LEARNING);
    return;
  }
  const al = lo < 0 ? -lo : lo;
  const w = (hi - lo) / sd(G, NL_LEVELS);
  const floor = 1e-9 * (al > 1 ? al : 1);
  const kf = Math.floor((x - lo) / (w > floor ? w : floor)) + <f64>BELOW;
  const q: i32 = kf < 0 ? 0 : kf > <f64>TOP ? TOP : <i32>kf;
  const since = sd(F, NL_SINCE) + 1;
  const mask = <u32>(<u64>seen);
  let score: f64 = 0;
  let reason = R_NORMAL;
  if (((mask >>> q) & 1) == 0) {
    setd(F, NL_SEEN, seen + <f64>(<u64>1 << <u64>q));
    if (since > sd(G, NL_REST) && !(q > 0 && ((mask >>> (q - 1)) & 1) == 1) && !(q < TOP && ((mask >>> (q + 1)) & 1) == 1)) {
      score = 0.9;
      reason = x == 0 && lo > 0 ? R_DROP : q < BELOW ? R_DIP : R_SPIKE;
    }
    setd(F, NL_SINCE, 0);
  } else setd(F, NL_SINCE, since);
  verdict(NL, score, (lo + hi) / 2, lo, hi, reason);
}
