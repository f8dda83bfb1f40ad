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
import { compileMatchers, type Alert, type AlertInput, type Labels, type Matcher, type Series, type Store } from '../store/index.ts';

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
const SHARED_MAX_AGE_MS = 10_000; // wall clock: reads shared by the builds of one burst are this fresh at least
const SHARED_MAX_SERIES = 100_000; // a metric with more series is read per build, not kept
const YIELD_EVERY = 256; // series read between two yields to the event loop (the store's reads are synchronous)

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
  /**
   * The drill the engine ran when a rule aggregate's window was judged anomalous (set by the
   * engine; see aggregate.ts). An alert on such a derived series has no stored children to read:
   * its leaves lived only in the engine's window accumulators.
   */
  aggregateDrill: ((tenant: string, seriesId: number, at: number) => { drill: DrillResult; scope: Labels } | undefined) | undefined;
  /** Recent peer drills: the leaf alerts of one incident share their rule's drill. */
  readonly #memo = new Map<string, Promise<{ drill: DrillResult | undefined; scope: Labels; note: string | null }>>();
  /**
   * Reads every build of a burst repeats (a metric's series, the tenant's open alerts), kept
   * until `forget()` (the wiring calls it when its queue runs dry) or for SHARED_MAX_AGE_MS: an
   * alert storm then costs one scan of the catalogue, not one per alert.
   */
  readonly #shared = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(store: Store, config: (tenant: string) => { config: TenantConfig | undefined }, clock: () => number, o: Partial<typeof TRIAGE_DEFAULTS> = {}) {
    this.#store = store;
    this.#config = config;
    this.#clock = clock;
    this.#o = { ...TRIAGE_DEFAULTS, ...o };
  }

  #cancelled = false;

  /** Stops every build at its next read, for good (shutdown): they reject. */
  cancel(): void {
    this.#cancelled = true;
  }

  get cancelled(): boolean {
    return this.#cancelled;
  }

  /** Between reads: gives the event loop a turn, and ends a build once cancelled. */
  async #yield(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.#cancelled) throw new Error('triage builds cancelled (shutting down)');
  }

  /** Drops the reads shared between builds (see #shared). */
  forget(): void {
    this.#shared.clear();
    this.#memo.clear();
  }

  #sharedRead<T>(key: string, read: () => Promise<T>): Promise<T> {
    const hit = this.#shared.get(key);
    if (hit && performance.now() - hit.at < SHARED_MAX_AGE_MS) return hit.value as Promise<T>;
    const value = read();
    this.#shared.set(key, { at: performance.now(), value });
    value.catch(() => this.#shared.delete(key));
    return value;
  }

  /**
   * The packet of one stored alert (its current episode). The drill looks at the sample that
   * fired it, or with `latest` (a refresh while it keeps firing) at its last anomalous sample.
   */
  async build(alert: Alert, o: { latest?: boolean } = {}): Promise<TriagePacket> {
    if (this.#cancelled) throw new Error('triage builds cancelled (shutting down)');
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
    const at = (o.latest ? numOrNull(p.lastTrueT) ?? firingAt : firingAt ?? numOrNull(p.lastTrueT)) ?? alert.startsAt;
    const { onset, step } = await this.#onset(tenant, alert.seriesId, alert.startsAt);
    const counterOf = (metric: string) => config?.metrics.find((m) => m.name === metric)?.type === 'counter' || (!config?.metrics.some((m) => m.name === metric) && metric.endsWith('_total'));

    let result: DrillResult | undefined;
    let scope: Labels = {};
    let note: string | null = null;
    let impact: ImpactFacts = { kind: 'none', gate: typeof p.impact === 'string' ? p.impact : typeof p.heldReason === 'string' ? p.heldReason : null };
    const gateText = impact.gate;
    const gate = rule?.impact;
    const own = alert.seriesId !== null ? this.aggregateDrill?.(tenant, alert.seriesId, at) : undefined;
    if (own) {
      result = own.drill;
      scope = own.scope;
    }
    if (gate?.kind === 'slo') {
      const r = await this.#ratioDrill(tenant, gate.errors, gate.total, labels, onset, at, step, counterOf, Math.max(...gate.windows.map((w) => w.longMs)));
      if (!own) {
        result = r.drill;
        scope = r.scope;
        note = r.note;
      }
      const allowed = 1 - gate.objective / 100;
      impact = {
        kind: 'slo', objective: gate.objective, errorRatio: r.errorRatio(Math.min(...gate.windows.map((w) => w.shortMs))), gate: gateText,
        burnRates: gate.windows.map((w) => ({ longMs: w.longMs, shortMs: w.shortMs, long: r.errorRatio(w.longMs) / allowed, short: r.errorRatio(w.shortMs) / allowed, threshold: w.burnRate })),
      };
    } else if (!own) {
      const r = await this.#additiveDrill(tenant, alert.metric, labels, alert.seriesId, rule, onset, at, step, counterOf(alert.metric));
      result = r.drill;
      scope = r.scope;
      note = r.note;
    }
    if (gate?.kind !== 'slo') {
      if (gate?.kind === 'limit') impact = { kind: 'limit', selector: gate.selector.text, op: gate.op, limit: gate.value, value: await this.#limitValue(tenant, gate.selector, gate.op, at), gate: gateText };
    }

    const now = this.#clock();
    // The store lists changes oldest first and cuts at the limit: the last hour is read on its
    // own, so a busy day of changes cannot push out the ones that matter most.
    const near = onset - Math.min(this.#o.changesBeforeMs, 3_600_000);
    const [far, recent, open] = await Promise.all([
      near > onset - this.#o.changesBeforeMs ? store.changes.list({ tenant, from: onset - this.#o.changesBeforeMs, to: near, limit: MAX_CHANGES }) : [],
      store.changes.list({ tenant, from: near, to: Math.max(at, onset) + this.#o.changesAfterMs, limit: MAX_CHANGES }),
      this.#sharedRead(`open\u0000${tenant}`, () => store.alerts.list({ tenant, states: ['pending', 'firing'], limit: 500 })),
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
    const limit = this.#o.maxChildren + 1;
    let list: Series[];
    const pinned = matchers[0]?.name === '__name__' && matchers[0].op === '=' ? matchers[0].value : undefined;
    const all = pinned === undefined ? undefined : await this.#sharedRead(`series\u0000${tenant}\u0000${pinned}`, async () => {
      const found = await this.#store.series.find(tenant, [matchers[0]], SHARED_MAX_SERIES + 1);
      return found.length > SHARED_MAX_SERIES ? undefined : found;
    });
    if (all !== undefined) {
      // The store's own matcher semantics, over the metric's series read once per burst.
      const match = compileMatchers(matchers);
      list = [];
      for (const s of all) if (match(s.metric, s.labels) && list.push(s) >= limit) break;
    } else list = await this.#store.series.find(tenant, matchers, limit);
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
    let n = 0;
    for (const c of children) {
      if (++n % YIELD_EVERY === 0) await this.#yield();
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
    let k = 0;
    for (const [role, list] of [['num', e.list], ['den', n.list]] as const) {
      for (const s of list) {
        if (++k % YIELD_EVERY === 0) await this.#yield();
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
  /** Packets built at once at most; more wait (new episodes before refreshes). */
  readonly concurrency?: number;
  /** A firing alert's packet is rebuilt at most this often (ms, engine clock) while it keeps firing. */
  readonly refreshMs?: number;
  /** Shutdown waits at most this long (ms, wall clock) for the packets being built; queued ones are dropped. */
  readonly closeWaitMs?: number;
  /** A notification waits at most this long (ms, wall clock) for packets being built right now; never for queued ones. */
  readonly notifyWaitMs?: number;
  /**
   * True while notifications wait to be sent: a build then waits (up to PAGES_FIRST_MS), since
   * its reads and the sends share one event loop and the pages matter more.
   */
  readonly pagesWaiting?: () => boolean;
}

const TRIAGE_CONCURRENCY = 2;
const REFRESH_MS = 60_000; // 1 min between two builds of one firing alert's packet
const MAX_REFRESH_QUEUE = 256; // refreshes waiting at most; beyond, one waits for a later upsert of its alert
const CLOSE_WAIT_MS = 2_000; // 2 s: a shutdown is not held longer for packets
const NOTIFY_WAIT_MS = 250; // a build under way usually ends within this: its summary rides in the page, not in a second message
const PAGES_FIRST_MS = 2_000; // a build waits at most this long for the notifications queued before it
const MAX_TRACKED = 10_000; // episodes remembered; the oldest go first
const SUMMARY_ALERTS = 3; // alerts of one notification that get summary lines

type Severity = AlertInput['severity'];

interface Episode {
  readonly key: string;
  readonly startsAt: number;
  /** The alert as its latest upsert had it: what the next build reads. */
  input: AlertLike;
  packet: TriagePacket | undefined;
  /** Engine clock when the last build started (-Infinity: never). */
  builtAt: number;
  /** The severity the last build saw: a change calls for a new packet. */
  builtSeverity: Severity | undefined;
  queued: boolean;
  building: boolean;
  resolved: boolean;
  /** Settles when the first build ends (built, failed, or dropped at shutdown). */
  readonly first: Promise<void>;
  readonly firstDone: () => void;
}

/** The alert fields a packet is built from: a stored alert or an upsert the stage produced. */
type AlertLike = Parameters<TriageBuilder['build']>[0];

function alertLike(u: AlertInput): AlertLike {
  return {
    tenant: u.tenant, fingerprint: u.fingerprint, metric: u.metric, labels: u.labels, seriesId: u.seriesId ?? null, state: u.state, severity: u.severity,
    startsAt: u.startsAt, endsAt: u.endsAt ?? null, updatedAt: u.at, score: u.score, reasons: u.reasons, owner: u.owner ?? null, runbook: u.runbook ?? null,
    packet: u.packet ?? null, configVersion: u.configVersion ?? null,
  };
}

/** A notification as it goes now, and its follow-up with the triage summary when that was not ready. */
export interface Annotated {
  readonly dispatch: Dispatch;
  /**
   * Settles when the missing packets are built: an `update` dispatch with their summary for the
   * alerts still firing, or undefined (nothing to add, or shutting down). Undefined when nothing was missing.
   */
  readonly followUp: Promise<Dispatch | undefined> | undefined;
}

/**
 * Wires triage packets into the alert flow (src/engine/alerting.ts): when an episode starts
 * firing its packet is built in the background, stored on the alert (`packet.triage`) and
 * merged into every later upsert of that episode. While the alert keeps firing the packet is
 * rebuilt when its severity changes and at most every `refreshMs` (new contributors, changes,
 * impact), so the API and the UI show current data. Notifications carry the summary lines of
 * the packets that are ready; one never waits for a packet: when one is missing, its summary
 * follows in an `update` once built.
 *
 * Why at firing, not lazily on request: the notification is when the on-call needs it most,
 * and the drill reads the children at the anomaly time, which retention will eventually
 * delete. Why not at pending: a pending alert that clears costs nothing now, and most do.
 * Why never wait: in an alert storm a build queue of thousands would hold every page behind it.
 */
export class TriageWiring {
  readonly builder: TriageBuilder;
  readonly #episodes = new Map<string, Episode>();
  readonly #persist: (fn: () => Promise<unknown>) => void;
  readonly #store: Store;
  readonly #clock: () => number;
  readonly #concurrency: number;
  readonly #refreshMs: number;
  readonly #closeWaitMs: number;
  readonly #notifyWaitMs: number;
  readonly #pagesWaiting: () => boolean;
  /** New episodes and severity changes first, then periodic refreshes. */
  readonly #urgent: Episode[] = [];
  readonly #refresh: Episode[] = [];
  readonly #running = new Set<Promise<void>>();
  #closed = false;
  /** Counters for /metrics and tests: packets built, refreshes skipped for a full queue, builds dropped at shutdown. */
  readonly counters = { built: 0, refreshed: 0, skipped: 0, dropped: 0, failed: 0 };

  constructor(store: Store, config: (tenant: string) => { config: TenantConfig | undefined }, clock: () => number, persist: (fn: () => Promise<unknown>) => void, o: TriageOptions = {}) {
    this.builder = new TriageBuilder(store, config, clock, o);
    this.#store = store;
    this.#clock = clock;
    this.#persist = persist;
    this.#concurrency = o.concurrency ?? TRIAGE_CONCURRENCY;
    this.#refreshMs = o.refreshMs ?? REFRESH_MS;
    this.#closeWaitMs = o.closeWaitMs ?? CLOSE_WAIT_MS;
    this.#notifyWaitMs = o.notifyWaitMs ?? NOTIFY_WAIT_MS;
    this.#pagesWaiting = o.pagesWaiting ?? (() => false);
  }

  /** The upsert with this episode's packet merged in, if it is ready. */
  decorate(u: AlertInput): AlertInput {
    const key = `${u.tenant}\u0000${u.fingerprint}`;
    const ep = this.#episodes.get(key);
    const out = ep?.packet && ep.startsAt === u.startsAt ? { ...u, packet: { ...(u.packet as object), triage: ep.packet } } : u;
    if (u.state === 'resolved' && ep?.startsAt === u.startsAt && ep.packet && !ep.queued && !ep.building) this.#episodes.delete(key);
    return out;
  }

  /** Starts packets for episodes that just started firing; queues refreshes of those that keep firing. */
  observe(upserts: readonly AlertInput[]): void {
    if (this.#closed) return;
    const now = this.#clock();
    for (const u of upserts) {
      const key = `${u.tenant}\u0000${u.fingerprint}`;
      const ep = this.#episodes.get(key);
      if (u.state === 'resolved') {
        if (ep && ep.startsAt === u.startsAt) ep.resolved = true;
        continue;
      }
      if (u.state !== 'firing') continue;
      if (!ep || ep.startsAt !== u.startsAt) {
        this.#track(key, u);
        continue;
      }
      ep.input = alertLike(u);
      if (ep.queued || ep.building || ep.packet === undefined) continue;
      if (u.severity !== ep.builtSeverity) this.#enqueue(ep, true);
      else if (now - ep.builtAt >= this.#refreshMs) {
        if (this.#refresh.length < MAX_REFRESH_QUEUE) this.#enqueue(ep, false);
        else this.counters.skipped++;
      }
    }
    this.#pump();
  }

  /** Remembers the packet a stored open alert already carries (after a restart), or builds a missing one. */
  restore(a: Alert): void {
    if (a.state === 'resolved') return;
    const triage = (a.packet as { triage?: TriagePacket } | null)?.triage;
    const key = `${a.tenant}\u0000${a.fingerprint}`;
    if (!triage) {
      if (a.state === 'firing') {
        this.#track(key, { ...a, at: a.updatedAt });
        this.#pump();
      }
      return;
    }
    const ep = this.#episode(key, a);
    ep.packet = triage;
    ep.builtAt = triage.generatedAt;
    ep.builtSeverity = a.severity;
    ep.firstDone();
  }

  /** The packet of an open episode, once built (undefined while building or unknown). */
  packet(tenant: string, fingerprint: string): TriagePacket | undefined {
    return this.#episodes.get(`${tenant}\u0000${fingerprint}`)?.packet;
  }

  /** Episodes waiting for a build (the build backlog). */
  backlog(): number {
    return this.#urgent.length + this.#refresh.length + this.#running.size;
  }

  /**
   * A firing notification with the summary lines of its alerts' packets that are ready (the
   * first few alerts), and when some are still missing, a follow-up for them. It waits briefly
   * (notifyWaitMs) for packets being built right now, never for queued ones: in an alert storm
   * the queue is long, and a page must not stand in it.
   */
  async annotate(d: Dispatch): Promise<Annotated> {
    if ((d.kind !== 'notify' && d.kind !== 'escalation') || d.status !== 'firing') return { dispatch: d, followUp: undefined };
    const firing = d.alerts.filter((a) => a.status === 'firing').slice(0, SUMMARY_ALERTS);
    const eps = firing.map((a) => {
      const ep = this.#episodes.get(`${d.tenant}\u0000${a.fingerprint}`);
      return ep && ep.startsAt === a.startsAt ? ep : undefined;
    });
    const building = eps.filter((e): e is Episode => e !== undefined && e.packet === undefined && e.building).map((e) => e.first);
    if (building.length > 0 && this.#notifyWaitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(building), new Promise((r) => (timer = setTimeout(r, this.#notifyWaitMs)))]);
      clearTimeout(timer);
    }
    const lines = this.#lines(firing, eps);
    const dispatch = lines.length === 0 ? d : { ...d, text: d.text ? `${d.text}\n${lines.join('\n')}` : lines.join('\n') };
    const missing = eps.filter((e): e is Episode => e !== undefined && e.packet === undefined);
    if (missing.length === 0 || this.#closed) return { dispatch, followUp: undefined };
    const followUp = Promise.all(missing.map((e) => e.first)).then(() => {
      if (this.#closed) return undefined;
      // Only alerts of the same episodes, still firing: an update must not revive a resolved incident.
      const still = firing.filter((a, i) => eps[i] !== undefined && !eps[i]!.resolved && this.#episodes.get(eps[i]!.key) === eps[i]);
      const later = this.#lines(still, still.map((a) => eps[firing.indexOf(a)]));
      if (still.length === 0 || later.length === 0 || later.length === lines.length) return undefined;
      const keep = new Set(still.map((a) => a.fingerprint));
      const u: Dispatch = { ...d, id: `${d.id}:triage`, kind: 'update', alerts: d.alerts.filter((a) => keep.has(a.fingerprint)), text: later.join('\n'), crossedAt: null };
      return u;
    });
    return { dispatch, followUp };
  }

  #lines(alerts: readonly Dispatch['alerts'][number][], eps: readonly (Episode | undefined)[]): string[] {
    const lines: string[] = [];
    alerts.forEach((a, i) => {
      const p = eps[i]?.packet;
      if (!p) return;
      if (alerts.length > 1) lines.push(`${a.metric}:`);
      for (const l of p.summary) lines.push(alerts.length > 1 ? `  ${l}` : l);
    });
    return lines;
  }

  /** Waits for every packet queued or being built (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Stops building: drops the queued builds and waits at most `closeWaitMs` for those running
   * (they stop at their next read); a packet finished after that is not stored.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const ep of [...this.#urgent.splice(0), ...this.#refresh.splice(0)]) {
      ep.queued = false;
      this.counters.dropped++;
      ep.firstDone();
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      Promise.allSettled([...this.#running]).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.#closeWaitMs))),
    ]);
    clearTimeout(timer);
    if (!waited) this.builder.cancel();
    this.builder.forget();
  }

  #episode(key: string, u: AlertInput | Alert): Episode {
    if (this.#episodes.size >= MAX_TRACKED) {
      const oldest = this.#episodes.values().next().value!;
      this.#episodes.delete(oldest.key);
      oldest.firstDone();
    }
    let firstDone!: () => void;
    const first = new Promise<void>((r) => (firstDone = r));
    const input = 'at' in u ? alertLike(u) : u;
    const ep: Episode = { key, startsAt: u.startsAt, input, packet: undefined, builtAt: -Infinity, builtSeverity: undefined, queued: false, building: false, resolved: false, first, firstDone };
    this.#episodes.delete(key);
    this.#episodes.set(key, ep);
    return ep;
  }

  #track(key: string, u: AlertInput): void {
    this.#enqueue(this.#episode(key, u), true);
  }

  #enqueue(ep: Episode, urgent: boolean): void {
    ep.queued = true;
    (urgent ? this.#urgent : this.#refresh).push(ep);
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#concurrency) {
      const ep = this.#urgent.shift() ?? this.#refresh.shift();
      if (ep === undefined) break;
      ep.queued = false;
      if (this.#episodes.get(ep.key) !== ep) continue; // replaced by a newer episode, or forgotten
      if (ep.resolved && ep.packet !== undefined) continue; // a refresh that came too late
      const p = this.#build(ep).finally(() => {
        this.#running.delete(p);
        if (this.#running.size === 0 && this.#urgent.length === 0 && this.#refresh.length === 0) this.builder.forget();
        this.#pump();
      });
      this.#running.add(p);
    }
  }

  async #build(ep: Episode): Promise<void> {
    ep.building = true;
    const input = ep.input;
    const refresh = ep.packet !== undefined;
    ep.builtAt = this.#clock();
    ep.builtSeverity = input.severity;
    let packet: TriagePacket;
    try {
      // After the current batch: its samples are committed before the drill reads them; and
      // between two builds the event loop serves ingest and sends.
      await new Promise((r) => setImmediate(r));
      for (const until = performance.now() + PAGES_FIRST_MS; this.#pagesWaiting() && performance.now() < until && !this.#closed;) await new Promise((r) => setTimeout(r, 10));
      packet = await this.builder.build(input, { latest: refresh });
    } catch (err) {
      ep.building = false;
      ep.firstDone();
      if (!this.builder.cancelled) {
        this.counters.failed++;
        process.emitWarning(`triage packet for alert ${input.fingerprint} not built: ${(err as Error).message}`);
      }
      return;
    }
    ep.building = false;
    const current = this.#episodes.get(ep.key) === ep;
    if (current) ep.packet = packet;
    ep.firstDone();
    if (!current || this.builder.cancelled) return;
    if (refresh) this.counters.refreshed++;
    else this.counters.built++;
    // Store it on the alert now (later upserts of the episode get it from decorate).
    const { tenant, fingerprint } = input;
    const startsAt = ep.startsAt;
    this.#persist(async () => {
      const stored = await this.#store.alerts.get(tenant, fingerprint);
      if (!stored || stored.startsAt !== startsAt) return;
      await this.#store.alerts.upsert({ ...stored, at: stored.updatedAt, packet: { ...(stored.packet as object), triage: packet } });
    });
    if (ep.resolved && !ep.queued) this.#episodes.delete(ep.key);
  }
}
