/**
 * Impact gates: paging (S2+) needs the score AND impact. A gate is either a hard limit on an
 * impact metric (any selected series' latest value above/below the limit) or an SLO whose error
 * budget burns fast in both windows of some pair (Google SRE workbook, multi-window,
 * multi-burn-rate: e.g. 14.4x over 1h and 5m). Counters are read as increases, so resets and
 * restarts do not look like a burn.
 */
import { compileSelector, formatDuration, type ImpactGate } from '../config/index.ts';
import type { Labels } from './types.ts';

/** A limit gate ignores impact samples older than this (Prometheus's lookback delta). */
export const IMPACT_STALE_MS = 5 * 60_000;
/** SLO counter snapshots are kept at this spacing at most. */
const SNAPSHOT_MS = 10_000;

export const ROLE_LIMIT = 1;
export const ROLE_ERRORS = 2;
export const ROLE_TOTAL = 4;

export interface GateResult {
  readonly ok: boolean;
  /** Says what held, or why paging is held back. */
  readonly reason: string;
}

/** One rule's gate with the state it has read from impact samples. */
export class ImpactTracker {
  readonly gate: ImpactGate;
  readonly #sel: ((metric: string, labels: Labels) => boolean)[];
  /** Limit: latest value per series. SLO: last raw counter value per series. */
  readonly #last = new Map<number, { t: number; v: number; name: string }>();
  /** SLO: cumulative increases, and snapshots (time, errors, total) for the windows. */
  #errors = 0;
  #total = 0;
  readonly #snapT: number[] = [];
  readonly #snapE: number[] = [];
  readonly #snapN: number[] = [];
  #head = 0;
  readonly #keepMs: number;

  constructor(gate: ImpactGate) {
    this.gate = gate;
    this.#sel = gate.kind === 'limit' ? [compileSelector(gate.selector)] : [compileSelector(gate.errors), compileSelector(gate.total)];
    this.#keepMs = gate.kind === 'slo' ? Math.max(...gate.windows.map((w) => w.longMs)) + SNAPSHOT_MS : 0;
  }

  /** Which inputs of this gate the series feeds (a ROLE_* bit mask; 0: none). */
  roles(metric: string, labels: Labels): number {
    if (this.gate.kind === 'limit') return this.#sel[0](metric, labels) ? ROLE_LIMIT : 0;
    return (this.#sel[0](metric, labels) ? ROLE_ERRORS : 0) | (this.#sel[1](metric, labels) ? ROLE_TOTAL : 0);
  }

  /** Reads one impact sample (points arrive in time order per series). */
  observe(seriesId: number, roles: number, t: number, v: number, name: string): void {
    if (v !== v) return;
    const prev = this.#last.get(seriesId);
    if (prev !== undefined && t <= prev.t) return;
    this.#last.set(seriesId, { t, v, name });
    if (this.gate.kind === 'limit') return;
    // The first sample of a counter only sets its base: its increase is unknown.
    if (prev === undefined) return;
    const inc = v >= prev.v ? v - prev.v : v; // a reset restarts from 0
    if ((roles & ROLE_ERRORS) !== 0) this.#errors += inc;
    if ((roles & ROLE_TOTAL) !== 0) this.#total += inc;
    const n = this.#snapT.length;
    if (n > this.#head && t - this.#snapT[n - 1] < SNAPSHOT_MS) {
      this.#snapE[n - 1] = this.#errors;
      this.#snapN[n - 1] = this.#total;
      if (t > this.#snapT[n - 1]) this.#snapT[n - 1] = t;
    } else {
      this.#snapT.push(t);
      this.#snapE.push(this.#errors);
      this.#snapN.push(this.#total);
    }
    // Drop snapshots older than the longest window (compact now and then, not per point).
    while (this.#head < this.#snapT.length - 1 && this.#snapT[this.#head + 1] <= t - this.#keepMs) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#snapT.length) {
      this.#snapT.splice(0, this.#head);
      this.#snapE.splice(0, this.#head);
      this.#snapN.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** Error ratio over (now - windowMs, now]: increase of errors / increase of total. */
  #ratio(now: number, windowMs: number): number {
    const n = this.#snapT.length;
    if (n - this.#head < 2) return 0;
    // The newest snapshot at or before now - window; the oldest one when history is shorter.
    let lo = this.#head;
    let hi = n - 1;
    const from = now - windowMs;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#snapT[mid] <= from) lo = mid;
      else hi = mid - 1;
    }
    let end = n - 1;
    while (end > lo && this.#snapT[end] > now) end--;
    const dn = this.#snapN[end] - this.#snapN[lo];
    return dn > 0 ? (this.#snapE[end] - this.#snapE[lo]) / dn : 0;
  }

  /** Whether impact holds at `now`, with the reason either way. */
  evaluate(now: number): GateResult {
    const g = this.gate;
    if (g.kind === 'limit') {
      let fresh: { t: number; v: number; name: string } | undefined;
      for (const s of this.#last.values()) {
        if (s.t < now - IMPACT_STALE_MS) continue;
        const hit = g.op === 'above' ? s.v > g.value : s.v < g.value;
        if (hit) return { ok: true, reason: `impact: ${s.name} = ${round(s.v)} is ${g.op} the limit ${g.value}` };
        fresh = s;
      }
      if (!fresh) return { ok: false, reason: `no impact: no recent sample of the impact metric ${g.selector.text}` };
      return { ok: false, reason: `no impact: ${fresh.name} = ${round(fresh.v)} is not ${g.op} the limit ${g.value}` };
    }
    const allowed = 1 - g.objective / 100;
    const parts: string[] = [];
    for (const w of g.windows) {
      const long = this.#ratio(now, w.longMs) / allowed;
      const short = this.#ratio(now, w.shortMs) / allowed;
      const text = `${round(long)}x over ${formatDuration(w.longMs)} and ${round(short)}x over ${formatDuration(w.shortMs)} (needs ${w.burnRate}x in both)`;
      if (long >= w.burnRate && short >= w.burnRate) return { ok: true, reason: `impact: SLO ${g.objective}% error budget burning ${text}` };
      parts.push(text);
    }
    return { ok: false, reason: `no impact: SLO ${g.objective}% error budget burning ${parts.join('; ')}` };
  }
}

/** A value as alert texts show it: at most three decimals. */
export function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
