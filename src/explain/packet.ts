/**
 * The triage packet: everything the on-call needs in one object, in the order they ask it.
 *   what    metric, current value, expected value and band, score, detectors and reasons, config version
 *   when    start, estimated onset, duration, detection time
 *   where   top contributing segments with their share of the delta (drill.ts)
 *   impact  SLO burn rate or the configured impact metric
 *   why     ranked correlated changes with evidence (correlate.ts)
 *   next    owner, runbook, concrete suggestions chosen by the kind of the top change / segment
 *   related other alerts open at the same time on the same service or overlapping labels
 * Humble by construction: suspects below their confidence floor are listed but not named as
 * the cause, and the suggestions say so.
 *
 * Pure: the engine gathers the facts (src/engine/triage.ts) and this file only assembles them.
 */
import { alertServices, describeChange, humanDuration, rankChanges, type ChangeLike, type CorrelateOptions, type RankedChange } from './correlate.ts';
import { describeFactor, type DrillResult, type HeavyValue, type Segment } from './drill.ts';

export const TRIAGE_KIND = 'tidemark.triage/v1';

/** Changes below this confidence are listed as "considered", never named as the likely cause. */
export const CHANGE_CONFIDENCE_FLOOR = 0.3;
/** Segments below this confidence (or small beside a global move) are not named as the cause. */
export const SEGMENT_CONFIDENCE_FLOOR = 0.99;
/** Other alerts starting this close to this one count as "at the same time". */
export const RELATED_WINDOW_MS = 30 * 60_000; // 30 min
const MAX_RELATED = 10;

/** Labels the alert stage adds to every alert; they say nothing about where. */
const BUILTIN_LABELS = new Set(['tenant', 'rule', 'metric', 'severity', 'owner']);

/** What the alert stage knows about the alert. */
export interface AlertFacts {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly metric: string;
  /** The series labels (without the stage's built-in ones). */
  readonly labels: Readonly<Record<string, string>>;
  readonly rule: string;
  readonly state: string;
  readonly severity: string;
  readonly startsAt: number;
  readonly endsAt: number | null;
  /** Sample time at which it fired (null while pending). */
  readonly firingAt: number | null;
  readonly value: number | null;
  readonly expected: number | null;
  readonly lower: number | null;
  readonly upper: number | null;
  readonly score: number;
  readonly detectors: readonly { readonly name: string; readonly reason: string }[];
  readonly configVersion: number | null;
  readonly owner: string | null;
  readonly runbook: string | null;
  readonly triageUrl: string | null;
}

export interface BurnRate {
  readonly longMs: number;
  readonly shortMs: number;
  /** Budget burn rate (error ratio / allowed error ratio) over each window. */
  readonly long: number;
  readonly short: number;
  /** Burn rate both windows must exceed for the gate to hold. */
  readonly threshold: number;
}

/** Impact as the engine measured it from the rule's impact gate. */
export type ImpactFacts =
  | { readonly kind: 'slo'; readonly objective: number; readonly errorRatio: number; readonly burnRates: readonly BurnRate[]; readonly gate: string | null }
  | { readonly kind: 'limit'; readonly selector: string; readonly op: 'above' | 'below'; readonly limit: number; readonly value: number | null; readonly gate: string | null }
  | { readonly kind: 'none'; readonly gate: string | null };

/** An open alert that may be related. */
export interface RelatedCandidate {
  readonly fingerprint: string;
  readonly metric: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
  readonly severity: string;
  readonly startsAt: number;
}

export interface PacketInput {
  readonly alert: AlertFacts;
  /** Clock reading when the packet is built. */
  readonly now: number;
  /** Estimated start of the anomaly (the first point of the out-of-band run). */
  readonly onset: number;
  /** The drill-down, when the alert's aggregate has children (or peers) to drill into. */
  readonly drill: DrillResult | undefined;
  /** Labels fixed by the drill's parent, and why there is no drill when there is none. */
  readonly drillScope: Readonly<Record<string, string>>;
  readonly drillNote: string | null;
  readonly impact: ImpactFacts;
  /** Change events around the onset; ranked here. */
  readonly changes: readonly ChangeLike[];
  /** Open alerts of the tenant; filtered here. */
  readonly candidates: readonly RelatedCandidate[];
  readonly correlate?: CorrelateOptions;
}

export interface PacketSegment extends Segment {
  /** Named as a likely cause: above the floor and not part of a global move. */
  readonly suspect: boolean;
}

export interface PacketChange {
  readonly id: number | null;
  readonly kind: string;
  readonly service: string;
  readonly t: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly text: string;
  readonly author: string | null;
  readonly link: string | null;
  /** Change time minus onset, ms (negative: before). */
  readonly offsetMs: number;
  readonly confidence: number;
  readonly suspect: boolean;
  readonly evidence: string;
  readonly segment: string | null;
  readonly factors: RankedChange['factors'];
}

export interface Suggestion {
  readonly action: 'rollback' | 'revert' | 'failover' | 'drain' | 'investigate' | 'verify' | 'runbook';
  readonly text: string;
}

export interface TriagePacket {
  readonly kind: typeof TRIAGE_KIND;
  readonly generatedAt: number;
  readonly what: {
    readonly metric: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly rule: string;
    readonly severity: string;
    readonly state: string;
    readonly value: number | null;
    readonly expected: number | null;
    readonly band: { readonly lower: number | null; readonly upper: number | null };
    readonly score: number;
    readonly detectors: readonly { readonly name: string; readonly reason: string }[];
    readonly configVersion: number | null;
  };
  readonly when: {
    readonly start: number;
    readonly onset: number;
    readonly detectedAt: number | null;
    /** ms from start to the end (resolved) or to generatedAt. */
    readonly durationMs: number;
    readonly endsAt: number | null;
  };
  readonly where: {
    readonly mode: 'additive' | 'ratio' | 'none';
    readonly scope: Readonly<Record<string, string>>;
    readonly dimensions: readonly string[];
    readonly segments: readonly PacketSegment[];
    readonly global: { readonly ratio: number; readonly text: string } | null;
    readonly heavyHitters: Readonly<Record<string, readonly HeavyValue[]>>;
    readonly children: number;
    readonly folded: Readonly<Record<string, number>>;
    readonly verdict: string;
  };
  readonly impact: ImpactFacts & { readonly text: string };
  readonly why: {
    readonly floor: number;
    readonly considered: number;
    readonly changes: readonly PacketChange[];
    readonly verdict: string;
  };
  readonly next: {
    readonly owner: string | null;
    readonly runbook: string | null;
    readonly triageUrl: string | null;
    readonly suggestions: readonly Suggestion[];
  };
  readonly related: readonly {
    readonly fingerprint: string;
    readonly metric: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly state: string;
    readonly severity: string;
    readonly startsAt: number;
    readonly reason: string;
  }[];
  /** A few lines for notifications (where, why, next, impact). */
  readonly summary: readonly string[];
}

function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return Math.abs(x) >= 100 ? String(Math.round(x)) : String(Number(x.toPrecision(3)));
}

const REGION_DIMS = /^(region|zone|az|availability_zone|dc|datacenter|data_center|cluster|location|site|cell)$/;
const HOST_DIMS = /^(host|hostname|instance|node|pod|machine|server|container_id)$/;
const VERSION_DIMS = /^(app_version|version|build|release|revision|image|git_sha|commit)$/;
const CLIENT_DIMS = /^(device|device_class|os|platform|client|browser|app|country|carrier|network|isp|user_agent)$/;
const ROUTE_DIMS = /^(endpoint|route|path|handler|method|operation|rpc|api)$/;

/** The alert's impact, measured, in words. */
export function impactText(i: ImpactFacts): string {
  if (i.kind === 'slo') {
    const worst = [...i.burnRates].sort((a, b) => b.long - a.long)[0];
    const burn = worst ? `, error budget burning ${num(worst.long)}x over ${humanDuration(worst.longMs)} and ${num(worst.short)}x over ${humanDuration(worst.shortMs)} (page at ${worst.threshold}x)` : '';
    return `SLO ${i.objective}%: error ratio ${(i.errorRatio * 100).toPrecision(3)}%${burn}`;
  }
  if (i.kind === 'limit') {
    return i.value === null ? `impact metric ${i.selector}: no recent sample` : `impact metric ${i.selector} = ${num(i.value)} (limit: ${i.op} ${i.limit})`;
  }
  return i.gate ?? 'the rule has no impact gate (SLO or impact metric); impact unknown';
}

function suspectSegments(drill: DrillResult | undefined): PacketSegment[] {
  if (!drill) return [];
  return drill.segments.map((s) => ({ ...s, suspect: s.confidence >= SEGMENT_CONFIDENCE_FLOOR && (drill.global === null || Math.abs(s.share) >= 0.2) }));
}

function whereVerdict(drill: DrillResult | undefined, segs: readonly PacketSegment[], note: string | null): string {
  if (!drill) return note ?? 'no child series to drill into';
  const top = segs.find((s) => s.suspect);
  if (drill.global && !top) return drill.global.text;
  if (!top) return `no segment stands out among ${drill.children} child series`;
  const how = drill.mode === 'ratio' ? `its rate is ×${num(top.ratio)} of expected` : describeFactor(top.ratio);
  return `${top.text} carries ${pct(top.share)} of the delta (${how})${drill.global ? `; ${drill.global.text}` : ''}`;
}

/** Concrete next steps, chosen by the kind of the top change and the top segment's dimension. */
function suggest(changes: readonly PacketChange[], segs: readonly PacketSegment[], drill: DrillResult | undefined, runbook: string | null): Suggestion[] {
  const out: Suggestion[] = [];
  const c = changes.find((x) => x.suspect);
  if (c) {
    const what = describeChange({ t: c.t, kind: c.kind as ChangeLike['kind'], service: c.service, labels: c.labels, text: c.text });
    const conf = `(${pct(c.confidence)} likely)`;
    switch (c.kind) {
      case 'deploy': out.push({ action: 'rollback', text: `roll back ${what} ${conf}` }); break;
      case 'config': out.push({ action: 'revert', text: `revert the config push: ${what} ${conf}` }); break;
      case 'flag': out.push({ action: 'revert', text: `turn the flag back: ${what} ${conf}` }); break;
      case 'schema': out.push({ action: 'investigate', text: `check the schema change ${what}: roll forward a fix or restore the previous schema ${conf}` }); break;
      default: out.push({ action: 'investigate', text: `check the infrastructure event: ${what} ${conf}` });
    }
  }
  const s = segs.find((x) => x.suspect);
  if (s && s.share >= 0.5) {
    // The most actionable dimension of the segment decides: a region fails over, a host drains.
    const by = (re: RegExp) => s.pairs.find((p) => re.test(p.dimension));
    const region = by(REGION_DIMS);
    const host = by(HOST_DIMS);
    const version = by(VERSION_DIMS);
    const client = by(CLIENT_DIMS);
    const route = by(ROUTE_DIMS);
    const carries = `it carries ${pct(s.share)} of the delta`;
    if (region) out.push({ action: 'failover', text: `fail over ${region.dimension} ${region.value} (shift traffic away): ${carries}` });
    if (host) out.push({ action: 'drain', text: `drain ${host.dimension} ${host.value}: ${carries}` });
    if (version && !(c && c.kind === 'deploy')) out.push({ action: 'rollback', text: `halt the rollout of ${version.dimension} ${version.value} and roll back to the previous one: ${carries}` });
    if (client && !region && !host) out.push({ action: 'investigate', text: `check the upstream dependency or client release serving ${client.dimension}=${client.value}: ${carries}` });
    if (route && !region && !host) out.push({ action: 'investigate', text: `check ${route.dimension} ${route.value} (recent changes to that path; rate-limit or disable it): ${carries}` });
    if (!region && !host && !version && !client && !route) out.push({ action: 'investigate', text: `look at ${s.text} first: ${carries}` });
  }
  if (drill?.global && !s) {
    out.push({ action: 'verify', text: `no single segment: ${drill.global.text}; compare with the same time last week and with upstream traffic before acting` });
  }
  if (!c) out.push({ action: 'investigate', text: `no recorded change is a likely cause (none above ${pct(CHANGE_CONFIDENCE_FLOOR)}); check dependencies, traffic sources and changes not sent to Tidemark` });
  if (runbook) out.push({ action: 'runbook', text: `follow the runbook: ${runbook}` });
  return out;
}

function meaningful(labels: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(labels).filter(([k]) => !BUILTIN_LABELS.has(k));
}

function relatedAlerts(a: AlertFacts, candidates: readonly RelatedCandidate[]): TriagePacket['related'] {
  const mine = meaningful(a.labels);
  const services = new Set(alertServices(a.labels));
  const out: (TriagePacket['related'][number] & { gap: number })[] = [];
  for (const c of candidates) {
    if (c.fingerprint === a.fingerprint || c.state === 'resolved') continue;
    const gap = Math.abs(c.startsAt - a.startsAt);
    if (gap > RELATED_WINDOW_MS) continue;
    const theirs = new Map(meaningful(c.labels).map(([k, v]) => [k.startsWith('exported_') ? k.slice(9) : k, v]));
    const svc = alertServices(Object.fromEntries(theirs)).find((s) => services.has(s));
    const common = mine.filter(([k, v]) => theirs.get(k) === v && !alertServices({ [k]: v }).length);
    let reason: string;
    if (svc) reason = `same service ${svc}`;
    else if (common.length > 0) reason = `shares ${common.map(([k, v]) => `${k}=${v}`).join(', ')}`;
    else continue;
    out.push({ fingerprint: c.fingerprint, metric: c.metric, labels: c.labels, state: c.state, severity: c.severity, startsAt: c.startsAt, reason: `${reason}, ${gap < 1000 ? 'started at the same time' : `started ${humanDuration(gap)} ${c.startsAt < a.startsAt ? 'before' : 'after'}`}`, gap });
  }
  out.sort((x, y) => x.gap - y.gap || (x.fingerprint < y.fingerprint ? -1 : 1));
  return out.slice(0, MAX_RELATED).map(({ gap: _gap, ...r }) => r);
}

/**
 * Assembles the triage packet from the facts the engine gathered.
 * @example buildTriagePacket({ alert, now, onset, drill, drillScope: {}, drillNote: null, impact: { kind: 'none', gate: null }, changes, candidates: [] })
 */
export function buildTriagePacket(input: PacketInput): TriagePacket {
  const a = input.alert;
  const segs = suspectSegments(input.drill);
  const ranked = rankChanges(input.changes, {
    onset: input.onset,
    labels: a.labels,
    segments: segs.filter((s) => s.suspect).map((s) => ({ pairs: s.pairs, share: s.share })),
  }, input.correlate);
  const changes: PacketChange[] = ranked.map((r) => ({
    id: r.change.id ?? null,
    kind: r.change.kind,
    service: r.change.service,
    t: r.change.t,
    labels: r.change.labels,
    text: r.change.text,
    author: r.change.author ?? null,
    link: r.change.link ?? null,
    offsetMs: r.offsetMs,
    confidence: r.confidence,
    suspect: r.confidence >= CHANGE_CONFIDENCE_FLOOR,
    evidence: r.evidence,
    segment: r.segment,
    factors: r.factors,
  }));
  const top = changes.find((c) => c.suspect);
  const whyVerdict = input.changes.length === 0
    ? 'no change events were recorded around the onset'
    : top
      ? `most likely: ${top.evidence} (${pct(top.confidence)})`
      : `no recorded change is a likely cause: ${input.changes.length} considered, none above ${pct(CHANGE_CONFIDENCE_FLOOR)}`;
  const where = whereVerdict(input.drill, segs, input.drillNote);
  const impact = { ...input.impact, text: impactText(input.impact) };
  const suggestions = suggest(changes, segs, input.drill, a.runbook);
  const summary = [`where: ${where}`, `why: ${whyVerdict}`];
  const firstAction = suggestions.find((s) => s.action !== 'runbook');
  if (firstAction) summary.push(`next: ${firstAction.text}`);
  summary.push(`impact: ${impact.text}`);
  return {
    kind: TRIAGE_KIND,
    generatedAt: input.now,
    what: {
      metric: a.metric,
      labels: a.labels,
      rule: a.rule,
      severity: a.severity,
      state: a.state,
      value: a.value,
      expected: a.expected,
      band: { lower: a.lower, upper: a.upper },
      score: a.score,
      detectors: a.detectors,
      configVersion: a.configVersion,
    },
    when: {
      start: a.startsAt,
      onset: input.onset,
      detectedAt: a.firingAt,
      durationMs: Math.max(0, (a.endsAt ?? input.now) - a.startsAt),
      endsAt: a.endsAt,
    },
    where: {
      mode: input.drill?.mode ?? 'none',
      scope: input.drillScope,
      dimensions: input.drill?.dimensions ?? [],
      segments: segs,
      global: input.drill?.global ?? null,
      heavyHitters: input.drill?.heavyHitters ?? {},
      children: input.drill?.children ?? 0,
      folded: input.drill?.folded ?? {},
      verdict: where,
    },
    impact,
    why: { floor: CHANGE_CONFIDENCE_FLOOR, considered: input.changes.length, changes, verdict: whyVerdict },
    next: { owner: a.owner, runbook: a.runbook, triageUrl: a.triageUrl, suggestions },
    related: relatedAlerts(a, input.candidates),
    summary,
  };
}
