/**
 * Learning from feedback: labels people put on alerts (real / noise / expected / new_normal)
 * become suggested changes per rule or series, each with its projected effect from a backtest
 * (alerts and pages before and after over the same recorded period, and how many alerts labelled
 * real would still fire). An operator applies one through the API, which stores a new config
 * version (audited with its diff) or resets the series' baseline; within the bounds of the
 * config's `feedback.auto_apply` the server applies config changes itself (outOfBounds).
 *
 * The rules of thumb, per configured rule (the default profile has no rule to edit):
 * - noise, mostly short episodes: raise `timing.for` past the longest noisy episode (at most 1 h);
 * - noise otherwise: widen the band one sensitivity step (high -> medium -> low -> 0.99);
 * - expected, recurring at the same UTC hour: exclude that window (a recurring maintenance window);
 * - new_normal: accept the new level, i.e. reset that series' learned baseline.
 */
import { createHash } from 'node:crypto';
import { parseDocument, isMap, isSeq, type Document } from 'yaml';
import { DEFAULTS, loadConfig, type AutoApply, type Rule, type TenantConfig } from '../config/index.ts';
import type { Alert, FeedbackLabel, Labels, Matcher, Store } from '../store/index.ts';
import { runBacktest, type BacktestResult } from './backtest.ts';

export type SuggestionKind = 'raise_for' | 'widen_band' | 'exclude_window' | 'reset_baseline';

export const SUGGEST_DEFAULTS = Object.freeze({
  lookbackMs: 7 * 86_400_000, // 7 d of feedback, and the period the effect is projected over
  minEvidence: 2, // labelled alerts before a rule-wide change is suggested
  maxForMs: 3_600_000, // 1 h: a longer `for` hides real incidents
  shortEpisodeMs: 30 * 60_000, // 30 min: noise shorter than this is a `for` problem, not a band problem
});

const MIN = 60_000;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export interface SuggestionEffect {
  readonly from: number;
  readonly to: number;
  /** Alerts of the rule that fired, pages among them, and notifications that announced them firing. */
  readonly before: { readonly alerts: number; readonly pages: number; readonly notifications: number };
  readonly after: { readonly alerts: number; readonly pages: number; readonly notifications: number };
  /** Alerts labelled real in the period, and how many of them would still fire after the change. */
  readonly realTotal: number;
  readonly realKept: number;
}

export interface Suggestion {
  /** Stable for the same change on the same config version. */
  readonly id: string;
  readonly kind: SuggestionKind;
  readonly rule: string;
  /** For reset_baseline: the series. */
  readonly series: { readonly metric: string; readonly labels: Labels } | null;
  readonly title: string;
  readonly why: string;
  readonly evidence: { readonly labels: Partial<Record<FeedbackLabel, number>>; readonly fingerprints: readonly string[] };
  /** The config version this suggestion edits, and the YAML it would store (null for a reset). */
  readonly configVersion: number | null;
  readonly yaml: string | null;
  readonly effect: SuggestionEffect | null;
}

export interface SuggestOptions {
  readonly store: Store;
  readonly tenant: string;
  readonly now: number;
  /** The server's alert policy, as the live engine runs it (for the backtests). */
  readonly policy?: unknown;
  readonly lookbackMs?: number;
  /** False: skip the backtests (effect null); for listing quickly. */
  readonly project?: boolean;
}

interface Labelled {
  readonly alert: Alert;
  readonly label: FeedbackLabel;
  readonly rule: string;
}

/**
 * Suggestions for a tenant from its feedback (see the file comment), newest evidence first.
 * @example const list = await suggestChanges({ store, tenant: 'default', now: Date.now() });
 */
export async function suggestChanges(o: SuggestOptions): Promise<Suggestion[]> {
  const lookbackMs = o.lookbackMs ?? SUGGEST_DEFAULTS.lookbackMs;
  const from = o.now - lookbackMs;
  const latest = await o.store.config.latest(o.tenant);
  const config = latest ? loadConfig(latest.yaml, `config v${latest.version}`).config : undefined;
  if (!latest || !config) return [];
  // The latest label per alert: people relabel, and the last word is the current judgement.
  const labels = new Map<string, { at: number; label: FeedbackLabel }>();
  for (const f of await o.store.feedback.list({ tenant: o.tenant, from })) {
    const prev = labels.get(f.fingerprint);
    if (!prev || f.at >= prev.at) labels.set(f.fingerprint, { at: f.at, label: f.label });
  }
  const byRule = new Map<string, Labelled[]>();
  for (const [fp, l] of labels) {
    const alert = await o.store.alerts.get(o.tenant, fp);
    if (!alert) continue;
    const rule = ((alert.packet as { rule?: unknown } | null)?.rule as string | undefined) ?? alert.labels.rule ?? '';
    let list = byRule.get(rule);
    if (!list) byRule.set(rule, (list = []));
    list.push({ alert, label: l.label, rule });
  }
  const out: Suggestion[] = [];
  for (const [name, list] of byRule) {
    const rule = config.rules.find((r) => r.name === name);
    if (!rule) continue;
    const counts: Partial<Record<FeedbackLabel, number>> = {};
    for (const x of list) counts[x.label] = (counts[x.label] ?? 0) + 1;
    const of = (label: FeedbackLabel) => list.filter((x) => x.label === label);
    const noise = of('noise');
    const evidence = (xs: Labelled[]) => ({ labels: counts, fingerprints: xs.map((x) => x.alert.fingerprint) });
    if (noise.length >= SUGGEST_DEFAULTS.minEvidence) {
      const durations = noise.map((x) => (x.alert.endsAt ?? o.now) - x.alert.startsAt);
      const short = durations.filter((d) => d < SUGGEST_DEFAULTS.shortEpisodeMs);
      const longest = Math.max(...short, 0);
      const forMs = Math.ceil((longest + MIN) / (5 * MIN)) * 5 * MIN;
      if (short.length * 2 >= noise.length && forMs > rule.timing.forMs && forMs <= SUGGEST_DEFAULTS.maxForMs) {
        const yaml = editRule(latest.yaml, name, (doc, path) => doc.setIn([...path, 'timing', 'for'], fmtDuration(forMs)));
        out.push(make(o.tenant, latest.version, 'raise_for', rule, null, `Raise ${name}'s minimum duration (for) from ${fmtDuration(rule.timing.forMs)} to ${fmtDuration(forMs)}`,
          `${short.length} of ${noise.length} alerts labelled noise lasted less than ${fmtDuration(SUGGEST_DEFAULTS.shortEpisodeMs)} (longest ${fmtDuration(longest)})`, evidence(noise), yaml));
      } else {
        const next = widerThreshold(rule);
        if (next !== undefined) {
          const yaml = editRule(latest.yaml, name, (doc, path) => doc.setIn([...path, 'sensitivity'], next.value));
          out.push(make(o.tenant, latest.version, 'widen_band', rule, null, `Widen ${name}'s band: sensitivity ${rule.sensitivity.level === 'custom' ? rule.sensitivity.threshold : rule.sensitivity.level} -> ${next.value}`,
            `${noise.length} alerts labelled noise, most of them longer than ${fmtDuration(SUGGEST_DEFAULTS.shortEpisodeMs)}: the band is too narrow for this series' normal spread`, evidence(noise), yaml));
        }
      }
    }
    // Expected alerts at the same UTC hour: a window people know about.
    const hours = new Map<number, Labelled[]>();
    for (const x of of('expected')) {
      const h = new Date(x.alert.startsAt).getUTCHours();
      let l = hours.get(h);
      if (!l) hours.set(h, (l = []));
      l.push(x);
    }
    for (const [h, xs] of hours) {
      if (xs.length < SUGGEST_DEFAULTS.minEvidence) continue;
      const days = [...new Set(xs.map((x) => WEEKDAYS[new Date(x.alert.startsAt).getUTCDay()]))].sort((a, b) => WEEKDAYS.indexOf(a) - WEEKDAYS.indexOf(b));
      const at = `${String(h).padStart(2, '0')}:00`;
      const window = { weekdays: days, at, duration: '1h', time_zone: 'UTC' };
      const yaml = editRule(latest.yaml, name, (doc, path) => {
        const seq = doc.getIn([...path, 'maintenance']);
        if (isSeq(seq)) seq.add(doc.createNode(window));
        else doc.setIn([...path, 'maintenance'], doc.createNode([window]));
      });
      out.push(make(o.tenant, latest.version, 'exclude_window', rule, null, `Exclude ${days.join(', ')} ${at}-${String((h + 1) % 24).padStart(2, '0')}:00 UTC from ${name} (a recurring maintenance window)`,
        `${xs.length} alerts labelled expected started between ${at} and ${String((h + 1) % 24).padStart(2, '0')}:00 UTC`, evidence(xs), yaml));
    }
    // New normal: one reset per series.
    const seen = new Set<string>();
    for (const x of of('new_normal')) {
      const series = seriesOf(x.alert);
      const key = JSON.stringify(series);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(make(o.tenant, latest.version, 'reset_baseline', rule, series, `Accept the new level of ${series.metric}${fmtLabels(series.labels)} as normal (reset its baseline)`,
        `its alert of ${new Date(x.alert.startsAt).toISOString()} was labelled new_normal`, { labels: counts, fingerprints: [x.alert.fingerprint] }, null));
    }
  }
  if (o.project !== false) {
    const done: Suggestion[] = [];
    const runs = new Map<string, Promise<BacktestResult>>();
    // Suggestions for the same rule share their "before" run.
    const run: Runner = (b) => {
      const key = JSON.stringify({ ...b, source: undefined });
      let p = runs.get(key);
      if (!p) runs.set(key, (p = runBacktest(b)));
      return p;
    };
    for (const s of out) done.push({ ...s, effect: await project(o, s, config, latest.yaml, from, byRule.get(s.rule) ?? [], run) });
    return done;
  }
  return out;
}

/** Before and after over the lookback, restricted to the rule's series (or the one series). */
type Runner = (o: Parameters<typeof runBacktest>[0]) => Promise<BacktestResult>;

async function project(o: SuggestOptions, s: Suggestion, config: TenantConfig, yaml: string, from: number, labelled: Labelled[], runBacktest: Runner): Promise<SuggestionEffect | null> {
  const rule = config.rules.find((r) => r.name === s.rule);
  if (!rule) return null;
  const matchers: Matcher[] = s.series
    ? [{ name: '__name__', op: '=', value: s.series.metric }, ...Object.entries(s.series.labels).map(([name, value]) => ({ name, op: '=' as const, value }))]
    : selectorMatchers(rule);
  const base = { source: o.store, tenant: o.tenant, matchers, from, to: o.now, policy: o.policy };
  try {
    const before = await runBacktest({ ...base, config: { kind: 'yaml', yaml } });
    // A reset: the models learn from the labelled alert's start on, as they will after it.
    const resetAt = s.series ? Math.max(from, Math.min(...labelled.filter((x) => s.evidence.fingerprints.includes(x.alert.fingerprint)).map((x) => x.alert.startsAt))) : from;
    const after = s.yaml !== null
      ? await runBacktest({ ...base, config: { kind: 'yaml', yaml: s.yaml } })
      : await runBacktest({ ...base, from: resetAt, warmupMs: 0, config: { kind: 'yaml', yaml } });
    const ruleAlerts = (r: typeof before) => r.alerts.filter((a) => a.rule === s.rule && a.firingAt !== null);
    const pages = (r: typeof before) => ruleAlerts(r).filter((a) => a.paged).length;
    const notes = (r: typeof before) => {
      const fps = new Set(ruleAlerts(r).map((a) => a.fingerprint));
      return r.dispatches.filter((d) => d.status === 'firing' && (d.kind === 'notify' || d.kind === 'escalation') && d.fingerprints.some((x) => fps.has(x))).length;
    };
    const real = labelled.filter((x) => x.label === 'real' && x.alert.startsAt >= from);
    const firedAfter = new Set(ruleAlerts(after).map((a) => a.fingerprint));
    return {
      from, to: o.now,
      before: { alerts: ruleAlerts(before).length, pages: pages(before), notifications: notes(before) },
      after: { alerts: ruleAlerts(after).length, pages: pages(after), notifications: notes(after) },
      realTotal: real.length,
      realKept: real.filter((x) => firedAfter.has(x.alert.fingerprint)).length,
    };
  } catch (err) {
    process.emitWarning(`suggestion ${s.id}: backtest failed: ${(err as Error).message}`);
    return null;
  }
}

function selectorMatchers(rule: Rule): Matcher[] {
  const out: Matcher[] = [];
  if (rule.selector.metric) out.push({ name: '__name__', op: '=', value: rule.selector.metric });
  for (const m of rule.selector.matchers) out.push({ name: m.label, op: m.op, value: m.value });
  return out;
}

/** The labels of the series an alert is about (the stage adds tenant, rule, metric, severity, owner and the rule's static labels). */
function seriesOf(a: Alert): { metric: string; labels: Labels } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.labels)) {
    if (['tenant', 'rule', 'metric', 'severity', 'owner'].includes(k)) continue;
    out[k.startsWith('exported_') ? k.slice(9) : k] = v;
  }
  return { metric: a.metric, labels: out };
}

/** One sensitivity step wider (a higher score threshold), or undefined at the widest. */
function widerThreshold(rule: Rule): { value: string | number } | undefined {
  const t = DEFAULTS.rule.thresholds;
  const level = rule.sensitivity.level;
  if (level === 'high') return { value: 'medium' };
  if (level === 'medium') return { value: 'low' };
  const cur = rule.sensitivity.threshold;
  if (level === 'low' || cur < t.low) return cur < t.low ? { value: 'low' } : { value: 0.99 };
  const next = Math.round((cur + (1 - cur) / 2) * 1000) / 1000;
  return next < 1 && next > cur ? { value: next } : undefined;
}

/** The YAML with one rule edited, comments and layout kept. */
function editRule(yaml: string, name: string, edit: (doc: Document, path: (string | number)[]) => void): string {
  const doc = parseDocument(yaml);
  const rules = doc.get('rules');
  if (!isSeq(rules)) throw new Error('the config has no rules list');
  const i = rules.items.findIndex((r) => isMap(r) && r.get('name') === name);
  if (i < 0) throw new Error(`no rule ${name}`);
  edit(doc, ['rules', i]);
  const out = String(doc);
  const { errors } = loadConfig(out, 'suggested config');
  if (errors.length > 0) throw new Error(`the suggested change does not validate: ${errors[0].path}: ${errors[0].message}`);
  return out;
}

function make(tenant: string, version: number, kind: SuggestionKind, rule: Rule, series: Suggestion['series'], title: string, why: string, evidence: Suggestion['evidence'], yaml: string | null): Suggestion {
  const id = createHash('sha256').update(`${tenant}\u0000${version}\u0000${kind}\u0000${rule.name}\u0000${JSON.stringify(series)}\u0000${yaml ?? ''}`).digest('hex').slice(0, 16);
  return { id, kind, rule: rule.name, series, title, why, evidence, configVersion: version, yaml, effect: null };
}

function fmtDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % MIN === 0) return `${ms / MIN}m`;
  return `${Math.round(ms / 1000)}s`;
}

function fmtLabels(l: Labels): string {
  const e = Object.entries(l);
  return e.length === 0 ? '' : `{${e.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** The actor of changes the server applies on its own (config versions and audit entries). */
export const AUTO_ACTOR = 'tidemark/auto';

/** What outOfBounds needs beyond the suggestion: the history of this rule's changes. */
export interface BoundsContext {
  /** Sensitivity steps the server already took on this rule within the lookback. */
  readonly stepsTaken: number;
  /** When its evidence was last acted on (a suggestion applied with overlapping evidence), if ever. */
  readonly actedOnAt: number | null;
  /** The newest label among its evidence. */
  readonly newestEvidenceAt: number;
}

/**
 * Why `s` may not apply itself under `bounds` (a sentence), or null when it may. A suggestion
 * applies itself only with a projection, when it loses no more alerts labelled real than
 * `min_real_kept` allows, adds no alerts or pages, stays within the kind's own bound, and its
 * evidence has not been acted on already (raising `for` and then widening the band for the
 * same noisy alerts would be two answers to one complaint).
 */
export function outOfBounds(s: Suggestion, bounds: AutoApply, ctx: BoundsContext): string | null {
  if (!bounds.enabled) return 'feedback.auto_apply.enabled is false';
  if (s.kind === 'reset_baseline' || !bounds.kinds.includes(s.kind)) return `${s.kind} is not in feedback.auto_apply.kinds`;
  if (s.yaml === null) return 'it changes no config';
  const e = s.effect;
  if (!e) return 'its effect could not be projected';
  const need = Math.ceil(bounds.minRealKept * e.realTotal - 1e-9);
  if (e.realKept < need) return `it would lose ${e.realTotal - e.realKept} of ${e.realTotal} alerts labelled real (min_real_kept ${bounds.minRealKept})`;
  if (e.after.alerts > e.before.alerts || e.after.pages > e.before.pages) return 'it would add alerts or pages';
  if (s.kind === 'raise_for') {
    const forMs = loadConfig(s.yaml, 'suggested config').config?.rules.find((r) => r.name === s.rule)?.timing.forMs;
    if (forMs === undefined) return 'the suggested config does not load';
    if (forMs > bounds.maxForMs) return `it raises for to ${fmtDuration(forMs)}, past max_for ${fmtDuration(bounds.maxForMs)}`;
  }
  if (s.kind === 'widen_band' && ctx.stepsTaken + 1 > bounds.maxSensitivityStep) {
    return `${s.rule} already took ${ctx.stepsTaken} automatic sensitivity step(s) in the lookback (max_sensitivity_step ${bounds.maxSensitivityStep})`;
  }
  if (ctx.actedOnAt !== null && ctx.newestEvidenceAt <= ctx.actedOnAt) return 'its evidence was already acted on and no label is newer';
  return null;
}
