/**
 * Change correlation: which recent change (deploy, config push, flag, schema change, infra
 * event) most likely caused an anomaly?
 *
 * Each change gets a score in log-odds, the sum of independent pieces of evidence, and its
 * logistic is the reported confidence:
 *
 * - Time. A cause comes before its effect, and the closer the better: the odds halve every
 *   `halfLifeMs` before the onset. A change within `graceMs` after the onset is ambiguous
 *   (onsets are only known to a sample interval, clocks skew); one clearly after the onset
 *   cannot be the cause (it is usually the mitigation) and ranks low.
 * - Scope. The change's service names the alert's service (or a label value of it): evidence
 *   for. Its labels agree with a top contributing segment (eu-west-1 carries 82% of the
 *   delta): strong evidence for, weighted by the segment's share. Its labels contradict the
 *   dominant segment or the alert's own labels (a change in us-east-1, a fault in eu-west-1):
 *   evidence against. A change everywhere while the fault is in one segment explains it less
 *   well than one scoped to that segment.
 * - Kind, the prior. Deploys ship new code, the most common trigger of incidents in outage
 *   studies (the SRE book puts about 70% of outages on changes to a live system, and binary
 *   pushes lead); config pushes come next: global, instant and often unreviewed by tests.
 *   Flags are config too, but are usually ramped and scoped, so they break less at once.
 *   Schema changes are rarer and tend to fail loudly at migration time. Infrastructure events
 *   (node replaced, autoscaling, maintenance) are frequent and mostly benign, so on their own
 *   they say least. Hence deploy > config > flag > schema > infra; scope overlap can overturn
 *   the prior (an infra event on the failing device class beats an unrelated deploy).
 *
 * Pure: no I/O.
 */

/** A change event as correlation reads it (structurally the store's ChangeEvent). */
export interface ChangeLike {
  readonly id?: number;
  readonly t: number;
  readonly kind: ChangeKindName;
  readonly service: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly text: string;
  readonly author?: string | null;
  readonly link?: string | null;
}

export type ChangeKindName = 'deploy' | 'config' | 'flag' | 'schema' | 'infra';

/** A top contributing segment, as the drill-down reports it. */
export interface SegmentLike {
  readonly pairs: readonly { readonly dimension: string; readonly value: string }[];
  /** Share of the aggregate's delta, 0..1 (clamped). */
  readonly share: number;
}

/** What the change is correlated with. */
export interface CorrelationTarget {
  /** Estimated start of the anomaly (ms). */
  readonly onset: number;
  /** The alert's series labels. */
  readonly labels: Readonly<Record<string, string>>;
  readonly segments: readonly SegmentLike[];
}

export interface CorrelateOptions {
  /** Odds halve per this much time between change and onset. Default 15 min. */
  readonly halfLifeMs?: number;
  /** A change this soon after the onset is ambiguous, not excluded. Default 2 min. */
  readonly graceMs?: number;
  /** Changes returned at most. Default 3. */
  readonly top?: number;
}

export const DEFAULT_CORRELATE = Object.freeze({
  halfLifeMs: 15 * 60_000, // 15 min
  graceMs: 2 * 60_000, // 2 min
  top: 3,
});

/** Prior log-odds per kind (see the file comment for the order). */
export const KIND_PRIOR: Readonly<Record<ChangeKindName, number>> = Object.freeze({
  deploy: 0,
  config: -0.3,
  flag: -0.5,
  schema: -0.8,
  infra: -1.0,
});

// Evidence weights, in nats of log-odds. A change of the alert's service right before the
// onset scoped to the segment carrying the whole delta reaches about +3 (95%); an unrelated
// change an hour before stays near -4 (2%).
const BASE = -1.0;
const SERVICE_MATCH = 1.0;
const SERVICE_MISMATCH = -0.5;
const SEGMENT_MATCH = 2.5; // times share times the fraction of the segment's pairs matched
const SEGMENT_TEXT = 1.0; // the segment's value named only in the change's text
const SEGMENT_CONFLICT = -1.5; // times share
const UNSCOPED = -0.5; // a change everywhere while the fault is localised
const LABEL_CONFLICT = -2.0; // the change names another value of one of the alert's labels
const AFTER_ONSET = -3.0;
const COINCIDENT = -0.7;

/** Labels that name a service, in the order they are trusted. */
const SERVICE_LABELS = ['service', 'app', 'application', 'job', 'component', 'deployment', 'container', 'service_name'];

export interface RankedChange {
  readonly change: ChangeLike;
  /** Change time minus onset (ms): negative before the onset. */
  readonly offsetMs: number;
  /** Log-odds, and its logistic. */
  readonly score: number;
  readonly confidence: number;
  /** One line of evidence: "deploy api v2.3.1 in eu-west-1, 4 minutes before onset; ...". */
  readonly evidence: string;
  /** The pieces of the score, for the curious and for tests. */
  readonly factors: { readonly kind: number; readonly time: number; readonly service: number; readonly scope: number };
  /** The segment the change matches best, if any. */
  readonly segment: string | null;
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

/** "4 minutes", "30 seconds", "2.5 hours". */
export function humanDuration(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s < 90) return `${Math.round(s)} second${Math.round(s) === 1 ? '' : 's'}`;
  const m = s / 60;
  if (m < 90) return `${Math.round(m)} minute${Math.round(m) === 1 ? '' : 's'}`;
  const h = m / 60;
  if (h < 36) return `${Number(h.toFixed(1))} hours`;
  return `${Number((h / 24).toFixed(1))} days`;
}

/** "deploy api v2.3.1 in eu-west-1": kind, service, text, and the scope values the text does not name. */
export function describeChange(c: ChangeLike): string {
  const text = c.text.trim();
  const lower = text.toLowerCase();
  const words: string[] = [c.kind];
  let rest = text;
  if (lower.startsWith(`${c.kind} `)) rest = text.slice(c.kind.length + 1);
  if (c.service && !lower.includes(c.service.toLowerCase())) words.push(c.service);
  if (rest) words.push(rest);
  const scope = Object.values(c.labels).filter((v) => v && !lower.includes(v.toLowerCase()) && v !== c.service);
  return `${words.join(' ')}${scope.length > 0 ? ` in ${scope.join(', ')}` : ''}`;
}

/** The service names an alert's labels carry (service, app, job, ...). */
export function alertServices(labels: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const k of SERVICE_LABELS) if (labels[k]) out.push(labels[k]);
  return out;
}

function percent(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/**
 * Ranks change events for an anomaly, most likely cause first; returns the top few.
 * @example rankChanges(changes, { onset, labels: { service: 'api' }, segments: [{ pairs: [{ dimension: 'region', value: 'eu-west-1' }], share: 0.82 }] })
 */
export function rankChanges(changes: readonly ChangeLike[], target: CorrelationTarget, opts: CorrelateOptions = {}): RankedChange[] {
  const halfLife = opts.halfLifeMs ?? DEFAULT_CORRELATE.halfLifeMs;
  const grace = opts.graceMs ?? DEFAULT_CORRELATE.graceMs;
  const top = opts.top ?? DEFAULT_CORRELATE.top;
  const services = alertServices(target.labels);
  const alertValues = new Set(Object.values(target.labels));
  const ranked = changes.map((c) => scoreChange(c, target, services, alertValues, halfLife, grace));
  ranked.sort((a, b) => b.score - a.score || b.offsetMs - a.offsetMs || (a.change.id ?? 0) - (b.change.id ?? 0));
  return ranked.slice(0, top);
}

function scoreChange(c: ChangeLike, target: CorrelationTarget, services: string[], alertValues: Set<string>, halfLife: number, grace: number): RankedChange {
  const offset = c.t - target.onset;
  let time: number;
  let when: string;
  if (offset <= 0) {
    time = -Math.LN2 * (-offset / halfLife);
    when = offset === 0 ? 'at the onset' : `${humanDuration(offset)} before onset`;
  } else if (offset <= grace) {
    time = COINCIDENT;
    when = `${humanDuration(offset)} after onset (within the onset's uncertainty)`;
  } else {
    time = AFTER_ONSET - Math.LN2 * (offset / halfLife);
    when = `${humanDuration(offset)} after onset, so more likely a reaction than the cause`;
  }

  // Service: the change's service against the alert's service labels (or any of its values).
  let service = 0;
  let serviceNote = '';
  if (services.length > 0) {
    if (services.includes(c.service)) {
      service = SERVICE_MATCH;
      serviceNote = `same service as the alert (${c.service})`;
    } else service = SERVICE_MISMATCH;
  } else if (alertValues.has(c.service)) {
    service = SERVICE_MATCH;
    serviceNote = `the alert's series is labelled ${c.service}`;
  }

  // Scope: the change's labels against the alert's labels and the top segments.
  let scope = 0;
  for (const [k, v] of Object.entries(c.labels)) {
    const mine = target.labels[k];
    if (mine !== undefined && mine !== v && !SERVICE_LABELS.includes(k)) scope += LABEL_CONFLICT;
  }
  let best = 0;
  let bestSeg: SegmentLike | undefined;
  let worst = 0;
  let touches = false;
  const text = c.text.toLowerCase();
  for (const s of target.segments) {
    const share = clamp01(s.share);
    let matched = 0;
    let named = 0;
    let conflicted = 0;
    for (const p of s.pairs) {
      const v = c.labels[p.dimension];
      if (v === p.value) matched++;
      else if (v !== undefined) conflicted++;
      else if (p.value.length >= 2 && text.includes(p.value.toLowerCase())) named++;
    }
    if (matched + conflicted > 0) touches = true;
    const n = Math.max(1, s.pairs.length);
    if (conflicted === 0 && matched + named > 0) {
      const g = share * (SEGMENT_MATCH * matched + SEGMENT_TEXT * named) / n;
      if (g > best) {
        best = g;
        bestSeg = s;
      }
    } else if (conflicted > 0 && matched === 0) worst = Math.min(worst, SEGMENT_CONFLICT * share);
  }
  if (best > 0) scope += best;
  else if (worst < 0) scope += worst;
  else if (target.segments.length > 0 && !touches && clamp01(target.segments[0].share) >= 0.5) scope += UNSCOPED;

  const kind = KIND_PRIOR[c.kind] ?? KIND_PRIOR.infra;
  const score = BASE + kind + time + service + scope;
  const parts = [`${describeChange(c)}, ${when}`];
  if (bestSeg) parts.push(`${bestSeg.pairs.map((p) => p.value).join(' & ')} carr${bestSeg.pairs.length > 1 ? 'y' : 'ies'} ${percent(clamp01(bestSeg.share))} of the delta`);
  else if (serviceNote) parts.push(serviceNote);
  if (worst < 0 && best === 0) parts.push('but its scope is not where the delta is');
  return {
    change: c,
    offsetMs: offset,
    score,
    confidence: 1 / (1 + Math.exp(-score)),
    evidence: parts.join('; '),
    factors: { kind, time, service, scope },
    segment: bestSeg ? bestSeg.pairs.map((p) => `${p.dimension}=${p.value}`).join(' & ') : null,
  };
}
