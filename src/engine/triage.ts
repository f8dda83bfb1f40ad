/**
 * Gathers what the triage packet needs from the store and hands it to `src/explain` (which
 * does no I/O): the alert series' recent points and bands (onset), its children or peers at
 * the anomaly time (drill-down), the rule's impact inputs (SLO counters or impact metric),
 * change events around the onset, and the tenant's other open alerts.
 *
 * Which drill. A rule with an SLO gate has a ratio (errors / total): its counters are drilled
 * with the ratio localiser, which stays right when a deploy brings new series (a new version
 * has no forecast, but the tenant's forecast rate applies to its traffic). Otherwise the
 * alert's aggregate is drilled additively into its children: series of the same metric whose
 * labels extend the alert's; a leaf alert (no children) is drilled among the rule's series.
 */
import type { Rule, Selector, TenantConfig } from '../config/index.ts';
import {
  buildTriagePacket, drill, drillRatio, type AlertFacts, type ChildObservation, type DrillResult, type ImpactFacts,
  type RatioChildObservation, type TriagePacket,
} from '../explain/index.ts';
import type { Dispatch } from '../alert/index.ts';
import type { Alert, AlertInput, Labels, Matcher, Series, Store } from '../store/index.ts';

/** Limits of one packet's reads, with units. */
export const TRIAGE_DEFAULTS = Object.freeze({
  maxChildren: 5_000, // series drilled at most; more are cut (and said so)
  baselineMs: 3_600_000, // 1 h before the onset: the "expected" of counters and band-less series
  onsetLookbackMs: 3_600_000, // 1 h: how far back the out-of-band run is followed
  changesBeforeMs: 6 * 3_600_000, // 6 h of change events before the onset
  changesAfterMs: 30 * 60_000, // 30 min after the detection
  defaultStepMs: 60_000, // sample spacing assumed when a series has too few points to tell
  limitStaleMs: 5 * 60_000, // an impact-metric sample older than this is not current
});

const BUILTIN = new Set(['tenant', 'rule', 'metric', 'severity', 'owner']);
const MEMO_SIZE = 16; // peer drills remembered
const MAX_CHANGES = 1_000; // change events read per window

interface StagePacket {
  rule?: unknown; value?: unknown; expected?: unknown; lower?: unknown; upper?: unknown; detectors?: unknown; firingAt?: unknown;
  lastTrueT?: unknown; impact?: unknown; heldReason?: unknown; triageUrl?: unknown;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function selectorMatchers(s: Selector): Matcher[] {
  return [{ name: '__name__', op: '=', value: s.metric }, ...s.matchers.map((m) => ({ name: m.label, op: m.op, value: m.value }))];
}

/** Series whose label-name set is not strictly contained in another's: the leaves, not partial aggregates. */
function leaves(list: readonly Series[]): Series[] {
  const sets = new Map<string, string[]>();
  for (const s of list) {
    const names = Object.keys(s.labels).sort();
    sets.set(names.join('\u0000'), names);
  }
  const maximal = new Set<string>();
  for (const [k, names] of sets) {
    let contained = false;
    for (const [k2, other] of sets) if (k2 !== k && other.length > names.length && names.every((n) => other.includes(n))) contained = true;
    if (!contained) maximal.add(k);
  }
  return list.filter((s) => maximal.has(Object.keys(s.labels).sort().join('\u0000')));
}

/** Typical spacing of the points (median gap), or the default. */
function stepOf(t: Float64Array, fallback: number): number {
  if (t.length < 3) return fallback;
  const gaps: number[] = [];
  for (let i = 1; i < t.length; i++) gaps.push(t[i] - t[i - 1]);
  gaps.sort((a, b) => a - b);
  return gaps[gaps.length >> 1] || fallback;
}

/**
 * What a series added over (from, to]: for counters the sum of increases (a reset restarts
 * from 0; a series first seen inside the window counts from 0), for other metrics the sum of
 * values (per-interval counts). `span` is the part of the window the series covered.
 */
export function windowIncrease(t: Float64Array, v: Float64Array, from: number, to: number, counter: boolean): { sum: number; span: number } {
  let sum = 0;
  let prev = NaN;
  let first = NaN;
  let hadBase = false;
  for (let i = 0; i < t.length; i++) {
    const x = v[i];
    if (x !== x) continue;
    if (t[i] <= from) {
      prev = x;
      hadBase = true;
      continue;
    }
    if (t[i] > to) break;
    if (first !== first) first = t[i];
    if (counter) {
      sum += prev === prev ? (x >= prev ? x - prev : x) : x;
      prev = x;
    } else sum += x;
  }
  const span = first !== first ? 0 : hadBase ? to - from : to - first;
  return { sum, span };
}

/** Builds triage packets for alerts read from the store. */
export class TriageBuilder {
  readonly #store: Store;
  readonly #config: (tenant: string) => { config: TenantConfig | undefined };
  readonly #clock: () => number;
  readonly #o: typeof TRIAGE_DEFAULTS;
  /** Recent peer drills: the leaf alerts of one incident share their rule's drill. */
  readonly #memo = new Map<string, Promise<{ drill: DrillResult | undefined; scope: Labels; note: string | null }>>();

  constructor(store: Store, config: (tenant: string) => { config: TenantConfig | undefined }, clock: () => number, o: Partial<typeof TRIAGE_DEFAULTS> = {}) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
    this.#o = { ...TRIAGE_DEFAULTS, ...o };
  }

  /** The packet of one stored alert (its current episode). */
  async build(alert: Alert): Promise<TriagePacket> {
    const store = this.#store;
    const tenant = alert.tenant;
    const p = (alert.packet ?? {}) as StagePacket;
    const series = alert.seriesId !== null ? await store.series.get(tenant, alert.seriesId) : undefined;
    const labels: Labels = series?.labels ?? Object.fromEntries(Object.entries(alert.labels).filter(([k]) => !BUILTIN.has(k)));
    const ruleName = typeof p.rule === 'string' ? p.rule : alert.labels.rule === 'default' ? '' : alert.labels.rule ?? '';
    const config = this.#config(tenant).config;
    const rule = config?.rules.find((r) => r.name === ruleName);
    const firingAt = numOrNull(p.firingAt);
    // The sample time the drill looks at: when it fired, else the last anomalous point seen.
    const at = firingAt ?? numOrNull(p.lastTrueT) ?? alert.startsAt;
    const { onset, step } = await this.#onset(tenant, alert.seriesId, alert.startsAt);
    const counterOf = (metric: string) => config?.metrics.find((m) => m.name === metric)?.type === 'counter' || (!config?.metrics.some((m) => m.name === metric) && metric.endsWith('_total'));

    let result: DrillResult | undefined;
    let scope: Labels = {};
    let note: string | null = null;
    let impact: ImpactFacts = { kind: 'none', gate: typeof p.impact === 'string' ? p.impact : typeof p.heldReason === 'string' ? p.heldReason : null };
    const gateText = impact.gate;
    const gate = rule?.impact;
    if (gate?.kind === 'slo') {
      const r = await this.#ratioDrill(tenant, gate.errors, gate.total, labels, onset, at, step, counterOf, Math.max(...gate.windows.map((w) => w.longMs)));
      result = r.drill;
      scope = r.scope;
      note = r.note;
      const allowed = 1 - gate.objective / 100;
      impact = {
        kind: 'slo', objective: gate.objective, errorRatio: r.errorRatio(Math.min(...gate.windows.map((w) => w.shortMs))), gate: gateText,
        burnRates: gate.windows.map((w) => ({ longMs: w.longMs, shortMs: w.shortMs, long: r.errorRatio(w.longMs) / allowed, short: r.errorRatio(w.shortMs) / allowed, threshold: w.burnRate })),
      };
    } else {
      const r = await this.#additiveDrill(tenant, alert.metric, labels, alert.seriesId, rule, onset, at, step, counterOf(alert.metric));
      result = r.drill;
      scope = r.scope;
      note = r.note;
      if (gate?.kind === 'limit') impact = { kind: 'limit', selector: gate.selector.text, op: gate.op, limit: gate.value, value: await this.#limitValue(tenant, gate.selector, gate.op, at), gate: gateText };
    }

    const now = this.#clock();
    // The store lists changes oldest first and cuts at the limit: the last hour is read on its
    // own, so a busy day of changes cannot push out the ones that matter most.
    const near = onset - Math.min(this.#o.changesBeforeMs, 3_600_000);
    const [far, recent, open] = await Promise.all([
      near > onset - this.#o.changesBeforeMs ? store.changes.list({ tenant, from: onset - this.#o.changesBeforeMs, to: near, limit: MAX_CHANGES }) : [],
      store.changes.list({ tenant, from: near, to: Math.max(at, onset) + this.#o.changesAfterMs, limit: MAX_CHANGES }),
      store.alerts.list({ tenant, states: ['pending', 'firing'], limit: 500 }),
    ]);
    const changes = [...far, ...recent];
    const facts: AlertFacts = {
      tenant,
      fingerprint: alert.fingerprint,
      metric: alert.metric,
      labels,
      rule: ruleName,
      state: alert.state,
      severity: alert.severity,
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      firingAt,
      value: numOrNull(p.value),
      expected: numOrNull(p.expected),
      lower: numOrNull(p.lower),
      upper: numOrNull(p.upper),
      score: alert.score,
      detectors: Array.isArray(p.detectors) ? (p.detectors as { name: string; reason: string }[]) : alert.reasons.map((r) => ({ name: '', reason: r })),
      configVersion: alert.configVersion,
      owner: alert.owner,
      runbook: alert.runbook,
      triageUrl: typeof p.triageUrl === 'string' ? p.triageUrl : null,
    };
    return buildTriagePacket({ alert: facts, now, onset, drill: result, drillScope: scope, drillNote: note, impact, changes, candidates: open });
  }

  /** The first point of the out-of-band run that ends at `startsAt`, and the series' step. */
  async #onset(tenant: string, seriesId: number | null, startsAt: number): Promise<{ onset: number; step: number }> {
    if (seriesId === null) return { onset: startsAt, step: this.#o.defaultStepMs };
    const from = startsAt - this.#o.onsetLookbackMs;
    const [s, b] = await Promise.all([this.#store.samples.range(tenant, seriesId, from, startsAt + 1), this.#store.samples.bands(tenant, seriesId, from, startsAt + 1)]);
    const step = stepOf(s.t, this.#o.defaultStepMs);
    const band = new Map<number, number>();
    for (let i = 0; i < b.t.length; i++) band.set(b.t[i], i);
    let onset = startsAt;
    for (let i = s.t.length - 1; i >= 0; i--) {
      if (s.t[i] >= startsAt) continue;
      const j = band.get(s.t[i]);
      if (j === undefined) break;
      const v = s.v[i];
      if (!(v < b.lower[j] || v > b.upper[j])) break;
      onset = s.t[i];
    }
    return { onset, step };
  }

  async #find(tenant: string, matchers: Matcher[]): Promise<{ list: Series[]; cut: boolean }> {
    const list = await this.#store.series.find(tenant, matchers, this.#o.maxChildren + 1);
    const cut = list.length > this.#o.maxChildren;
    return { list: cut ? list.slice(0, this.#o.maxChildren) : list, cut };
  }

  async #additiveDrill(tenant: string, metric: string, labels: Labels, seriesId: number | null, rule: Rule | undefined, onset: number, at: number, step: number, counter: boolean): Promise<{ drill: DrillResult | undefined; scope: Labels; note: string | null }> {
    const own = Object.keys(labels).length;
    const mine: Matcher[] = [{ name: '__name__', op: '=', value: metric }, ...Object.entries(labels).map(([k, v]) => ({ name: k, op: '=' as const, value: v }))];
    const { list, cut } = await this.#find(tenant, mine);
    const children = leaves(list.filter((s) => s.id !== seriesId && Object.keys(s.labels).length > own));
    const scope: Labels = labels;
    if (children.length === 0) {
      // A leaf alert: drill among the series its rule selects (the rule's aggregate). Leaf
      // alerts of one incident fire together; they share one drill.
      const key = `${tenant}\u0000${rule?.name ?? ''}\u0000${metric}\u0000${onset}\u0000${at}`;
      let memo = this.#memo.get(key);
      if (!memo) {
        memo = (async () => {
          const peers = await this.#find(tenant, rule ? selectorMatchers(rule.selector) : [{ name: '__name__', op: '=', value: metric }]);
          const kids = leaves(peers.list.filter((s) => s.metric === metric));
          if (kids.length < 2) return { drill: undefined, scope: {}, note: `no child series of ${metric} to drill into` };
          return this.#drillChildren(tenant, kids, {}, onset, at, step, counter, peers.cut);
        })();
        this.#memo.set(key, memo);
        if (this.#memo.size > MEMO_SIZE) this.#memo.delete(this.#memo.keys().next().value!);
        memo.catch(() => this.#memo.delete(key));
      }
      return memo;
    }
    return this.#drillChildren(tenant, children, scope, onset, at, step, counter, cut);
  }

  async #drillChildren(tenant: string, children: readonly Series[], scope: Labels, onset: number, at: number, step: number, counter: boolean, cut: boolean): Promise<{ drill: DrillResult | undefined; scope: Labels; note: string | null }> {
    const base0 = onset - step - this.#o.baselineMs;
    const obs: ChildObservation[] = [];
    for (const c of children) {
      const s = await this.#store.samples.range(tenant, c.id, base0 - step, at + 1);
      if (counter) {
        const inc = windowIncrease(s.t, s.v, onset - step, at, true);
        const base = windowIncrease(s.t, s.v, base0, onset - step, true);
        obs.push({ labels: c.labels, real: inc.sum, expected: base.span > 0 ? (base.sum * (at - onset + step)) / base.span : 0 });
        continue;
      }
      // Gauges: the last value within a few steps of the anomaly, against its band there.
      let i = s.t.length - 1;
      while (i >= 0 && (s.t[i] > at || s.v[i] !== s.v[i])) i--;
      const real = i >= 0 && s.t[i] > at - 3 * step ? s.v[i] : 0;
      let expected: number | undefined;
      if (i >= 0) {
        const b = await this.#store.samples.bands(tenant, c.id, s.t[i], s.t[i] + 1);
        if (b.t.length > 0 && Number.isFinite(b.expected[0])) expected = b.expected[0];
      }
      if (expected === undefined) {
        // Still learning: its level before the onset; a series born in the incident expected nothing.
        let sum = 0;
        let n = 0;
        for (let k = 0; k < s.t.length; k++) if (s.t[k] < onset && s.v[k] === s.v[k]) (sum += s.v[k]), n++;
        expected = n > 0 ? sum / n : 0;
      }
      obs.push({ labels: c.labels, real, expected });
    }
    const result = drill(obs, { exclude: Object.keys(scope), counts: counter });
    return { drill: result, scope, note: cut ? `drilled the first ${this.#o.maxChildren} series only` : null };
  }

  async #ratioDrill(
    tenant: string, errors: Selector, total: Selector, labels: Labels, onset: number, at: number, step: number, counterOf: (m: string) => boolean, longestMs: number,
  ): Promise<{ drill: DrillResult | undefined; scope: Labels; note: string | null; errorRatio: (windowMs: number) => number }> {
    const [e, n] = await Promise.all([this.#find(tenant, selectorMatchers(errors)), this.#find(tenant, selectorMatchers(total))]);
    // Labels the selectors pin (status code, ...) are not dimensions; the alert's labels scope the drill.
    const pinned = new Set([...errors.matchers.map((m) => m.label), ...total.matchers.map((m) => m.label)]);
    const inScope = (s: Series) => Object.entries(labels).every(([k, v]) => s.labels[k] === undefined || s.labels[k] === v);
    const scope: Labels = Object.fromEntries(Object.entries(labels).filter(([k]) => [...e.list, ...n.list].some((s) => s.labels[k] !== undefined)));
    const keyOf = (s: Series) => Object.keys(s.labels).filter((k) => !pinned.has(k)).sort().map((k) => `${k}=${s.labels[k]}`).join(',');
    const from = Math.min(onset - step - this.#o.baselineMs, at - longestMs) - step;
    const cells = new Map<string, { labels: Record<string, string>; num: { real: number; exp: number }; den: { real: number; exp: number } }>();
    // Error ratios per window, over every selected series (as the alert stage's gate sums them).
    const windows = new Map<number, { e: number; n: number }>();
    const reads: { s: Series; role: 'num' | 'den'; t: Float64Array; v: Float64Array }[] = [];
    for (const [role, list] of [['num', e.list], ['den', n.list]] as const) {
      for (const s of list) {
        const r = await this.#store.samples.range(tenant, s.id, from, at + 1);
        reads.push({ s, role, t: r.t, v: r.v });
      }
    }
    const incLen = at - onset + step;
    for (const r of reads) {
      const counter = counterOf(r.s.metric);
      if (inScope(r.s)) {
        const key = keyOf(r.s);
        let c = cells.get(key);
        if (!c) {
          const l: Record<string, string> = {};
          for (const k of Object.keys(r.s.labels)) if (!pinned.has(k)) l[k] = r.s.labels[k];
          cells.set(key, (c = { labels: l, num: { real: 0, exp: 0 }, den: { real: 0, exp: 0 } }));
        }
        const inc = windowIncrease(r.t, r.v, onset - step, at, counter);
        const base = windowIncrease(r.t, r.v, onset - step - this.#o.baselineMs, onset - step, counter);
        const slot = r.role === 'num' ? c.num : c.den;
        slot.real += inc.sum;
        slot.exp += base.span > 0 ? (base.sum * incLen) / base.span : 0;
      }
    }
    const obs: RatioChildObservation[] = [...cells.values()]
      .filter((c) => c.den.real > 0 || c.den.exp > 0)
      .map((c) => ({ labels: c.labels, numerator: { real: c.num.real, expected: c.num.exp }, denominator: { real: c.den.real, expected: c.den.exp } }));
    const ratio = (w: number) => {
      let x = windows.get(w);
      if (!x) {
        x = { e: 0, n: 0 };
        for (const r of reads) {
          const inc = windowIncrease(r.t, r.v, at - w, at, counterOf(r.s.metric)).sum;
          if (r.role === 'num') x.e += inc;
          else x.n += inc;
        }
        windows.set(w, x);
      }
      return x.n > 0 ? x.e / x.n : 0;
    };
    return {
      drill: obs.length >= 2 ? drillRatio(obs, { exclude: Object.keys(scope), counts: true }) : undefined,
      scope,
      note: obs.length < 2 ? `no SLO counter series (${errors.text} / ${total.text}) to drill into` : e.cut || n.cut ? `drilled the first ${this.#o.maxChildren} series only` : null,
      errorRatio: ratio,
    };
  }

  /** The impact metric's most extreme current value in the gate's direction. */
  async #limitValue(tenant: string, sel: Selector, op: 'above' | 'below', at: number): Promise<number | null> {
    const { list } = await this.#find(tenant, selectorMatchers(sel));
    let best: number | null = null;
    for (const s of list) {
      const r = await this.#store.samples.range(tenant, s.id, at - this.#o.limitStaleMs, at + 1);
      for (let i = r.t.length - 1; i >= 0; i--) {
        const v = r.v[i];
        if (v !== v) continue;
        if (best === null || (op === 'above' ? v > best : v < best)) best = v;
        break;
      }
    }
    return best;
  }
}

/** Options of the triage wiring (AlertingOptions.triage). */
export interface TriageOptions extends Partial<typeof TRIAGE_DEFAULTS> {
  /** Packets built at once at most; more wait. */
  readonly concurrency?: number;
  /** A notification waits at most this long (ms, wall clock) for its alerts' packets. */
  readonly notifyWaitMs?: number;
}

const TRIAGE_CONCURRENCY = 2;
const NOTIFY_WAIT_MS = 2_000; // 2 s: a page is not held longer for its triage summary
const MAX_TRACKED = 10_000; // episodes remembered; the oldest go first
const SUMMARY_ALERTS = 3; // alerts of one notification that get summary lines

interface Episode {
  readonly startsAt: number;
  packet: TriagePacket | undefined;
  done: Promise<void>;
}

/** The alert fields a packet is built from: a stored alert or an upsert the stage produced. */
type AlertLike = Parameters<TriageBuilder['build']>[0];

/**
 * Wires triage packets into the alert flow (src/engine/alerting.ts): when an episode starts
 * firing its packet is built in the background, stored on the alert (`packet.triage`) and
 * merged into every later upsert of that episode; notifications wait briefly for it and carry
 * its summary lines in their text.
 *
 * Why at firing, not lazily on request: the notification is when the on-call needs it most,
 * and the drill reads the children at the anomaly time, which retention will eventually
 * delete. Why not at pending: a pending alert that clears costs nothing now, and most do.
 */
export class TriageWiring {
  readonly builder: TriageBuilder;
  readonly #episodes = new Map<string, Episode>();
  readonly #persist: (fn: () => Promise<unknown>) => void;
  readonly #store: Store;
  readonly #concurrency: number;
  readonly #waitMs: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(store: Store, config: (tenant: string) => { config: TenantConfig | undefined }, clock: () => number, persist: (fn: () => Promise<unknown>) => void, o: TriageOptions = {}) {
    this.builder = new TriageBuilder(store, config, clock, o);
    this.#store = store;
    this.#persist = persist;
    this.#concurrency = o.concurrency ?? TRIAGE_CONCURRENCY;
    this.#waitMs = o.notifyWaitMs ?? NOTIFY_WAIT_MS;
  }

  /** The upsert with this episode's packet merged in, if it is ready. */
  decorate(u: AlertInput): AlertInput {
    const key = `${u.tenant}\u0000${u.fingerprint}`;
    const ep = this.#episodes.get(key);
    const out = ep?.packet && ep.startsAt === u.startsAt ? { ...u, packet: { ...(u.packet as object), triage: ep.packet } } : u;
    if (u.state === 'resolved' && ep?.startsAt === u.startsAt && ep.packet) this.#episodes.delete(key);
    return out;
  }

  /** Starts building packets for episodes that just started firing. */
  observe(upserts: readonly AlertInput[]): void {
    for (const u of upserts) {
      if (u.state !== 'firing') continue;
      const key = `${u.tenant}\u0000${u.fingerprint}`;
      const ep = this.#episodes.get(key);
      if (ep && ep.startsAt === u.startsAt) continue;
      this.#track(key, u);
    }
  }

  /** Remembers the packet a stored open alert already carries (after a restart). */
  restore(a: Alert): void {
    const triage = (a.packet as { triage?: TriagePacket } | null)?.triage;
    if (!triage || a.state === 'resolved') return;
    this.#episodes.set(`${a.tenant}\u0000${a.fingerprint}`, { startsAt: a.startsAt, packet: triage, done: Promise.resolve() });
  }

  /** The packet of an open episode, once built (undefined while building or unknown). */
  packet(tenant: string, fingerprint: string): TriagePacket | undefined {
    return this.#episodes.get(`${tenant}\u0000${fingerprint}`)?.packet;
  }

  /** A dispatch whose text carries the triage summary of its firing alerts (waits up to notifyWaitMs). */
  async annotate(d: Dispatch): Promise<Dispatch> {
    if ((d.kind !== 'notify' && d.kind !== 'escalation') || d.status !== 'firing') return d;
    const firing = d.alerts.filter((a) => a.status === 'firing').slice(0, SUMMARY_ALERTS);
    const eps = firing.map((a) => this.#episodes.get(`${d.tenant}\u0000${a.fingerprint}`));
    const pending = eps.filter((e): e is Episode => e !== undefined && e.packet === undefined).map((e) => e.done);
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(pending), new Promise((r) => (timer = setTimeout(r, this.#waitMs)))]);
      clearTimeout(timer);
    }
    const lines: string[] = [];
    firing.forEach((a, i) => {
      const p = eps[i]?.packet;
      if (!p || eps[i]!.startsAt !== a.startsAt) return;
      if (firing.length > 1) lines.push(`${a.metric}:`);
      for (const l of p.summary) lines.push(firing.length > 1 ? `  ${l}` : l);
    });
    if (lines.length === 0) return d;
    return { ...d, text: d.text ? `${d.text}\n${lines.join('\n')}` : lines.join('\n') };
  }

  /** Waits for every packet being built (tests, shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.#episodes.values()].map((e) => e.done));
  }

  #track(key: string, u: AlertInput): void {
    if (this.#episodes.size >= MAX_TRACKED) this.#episodes.delete(this.#episodes.keys().next().value!);
    const ep: Episode = { startsAt: u.startsAt, packet: undefined, done: Promise.resolve() };
    this.#episodes.set(key, ep);
    const alert: AlertLike = {
      tenant: u.tenant, fingerprint: u.fingerprint, metric: u.metric, labels: u.labels, seriesId: u.seriesId ?? null, state: u.state, severity: u.severity,
      startsAt: u.startsAt, endsAt: u.endsAt ?? null, updatedAt: u.at, score: u.score, reasons: u.reasons, owner: u.owner ?? null, runbook: u.runbook ?? null,
      packet: u.packet ?? null, configVersion: u.configVersion ?? null,
    };
    ep.done = this.#slot()
      .then(async () => {
        try {
          // After the current batch: its samples are committed before the drill reads them.
          await new Promise((r) => setImmediate(r));
          ep.packet = await this.builder.build(alert);
        } finally {
          this.#release();
        }
        const packet = ep.packet;
        // Store it on the alert now (later upserts of the episode get it from decorate).
        this.#persist(async () => {
          const stored = await this.#store.alerts.get(u.tenant, u.fingerprint);
          if (!stored || stored.startsAt !== u.startsAt) return;
          await this.#store.alerts.upsert({ ...stored, at: stored.updatedAt, packet: { ...(stored.packet as object), triage: packet } });
        });
      })
      .catch((err) => process.emitWarning(`triage packet for alert ${u.fingerprint} not built: ${(err as Error).message}`));
  }

  #slot(): Promise<void> {
    if (this.#running < this.#concurrency) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise((r) => this.#waiting.push(() => {
      this.#running++;
      r();
    }));
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.();
  }
}
