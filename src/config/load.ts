/**
 * `loadConfig`: YAML text -> a validated, defaulted, deeply frozen `TenantConfig`, or every
 * problem found, each with its path and line.
 *
 * Why a hand-written walker rather than TypeBox: the messages. A TypeBox union error says
 * "Expected union value" at a JSON pointer; ours say what was expected, what was found and
 * which close name was meant, on the right line. The walker also carries the checks a schema
 * language cannot express well (selector syntax, metric and receiver references, severity
 * policy, burn-rate arithmetic, time zones) and hands detector configs to the detector
 * registry, so there is one source of truth for each detector's options.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
// policy.ts, not alert/index.ts: the stage behind that index imports this folder.
import { resolvePolicy } from '../alert/policy.ts';
import type { InhibitRule, Matcher } from '../alert/types.ts';
import { createDetectorSet, detectorNames, getDetector } from '../detect/index.ts';
import type { DetectorEntry } from '../detect/types.ts';
import { TidemarkError } from '../errors.ts';
import { DEFAULTS, deepFreeze } from './defaults.ts';
import { formatDuration } from './duration.ts';
import { canonicalTimeZone, parseTimeOfDay, parseTimestamp, parseWeekday } from './maintenance.ts';
import { readFeedback } from './feedback.ts';
import { multivariateRuleName, readMultivariate } from './multivariate.ts';
import { childPath, closest, describe, didYouMean, Reader, type ConfigIssue, type Fields } from './reader.ts';
import { checkRegex, LABEL_NAME, METRIC_NAME, parseMatchers, parseSelector, type Selector } from './selector.ts';
import {
  AGGREGATION_FUNCTIONS, SENSITIVITY_LEVELS, SEVERITIES,
  type Aggregation, type AlertingConfig, type AlertTiming, type RuleFlap, type BurnRateWindow, type ImpactGate, type Limits, type MaintenanceWindow,
  type MetricSchema, type MetricType, type Receiver, type Route, type Rule, type Sensitivity, type TenantConfig, type Weekday,
} from './types.ts';

/** What `loadConfig` returns: a config when there is no error, otherwise every error. */
export interface LoadResult {
  readonly source: string;
  readonly config: TenantConfig | undefined;
  readonly errors: readonly ConfigIssue[];
}

/** Larger files are refused before parsing: a tenant config is a few hundred lines. */
export const MAX_CONFIG_BYTES = 1024 * 1024; // 1 MiB

const TOP_KEYS = ['version', 'tenant', 'metrics', 'rules', 'receivers', 'route', 'limits', 'alerting', 'multivariate', 'feedback'];
const METRIC_KEYS = ['name', 'type', 'unit', 'help', 'range', 'labels', 'deny_labels', 'max_label_values'];
const RULE_KEYS = [
  'name', 'selector', 'aggregation', 'detectors', 'sensitivity', 'severity', 'impact', 'owner', 'receiver',
  'runbook', 'mitigation_hook', 'group_by', 'labels', 'maintenance', 'timing', 'denominator', 'detect_on',
  'shadow', 'data_quality_receiver',
];
const TIMING_KEYS = ['for', 'keep_firing_for', 'group_wait', 'group_interval', 'repeat_interval', 'trigger', 'recovery'];
const ALERTING_KEYS = ['anti_flap', 'budgets', 'inhibit_rules', 'escalation', 'ack_ttl'];
const ANTI_FLAP_KEYS = ['trigger', 'recovery', 'no_data_after'];
const BUDGETS_KEYS = ['tenant', 'each_receiver', 'receivers', 'summary_delay'];
const BUDGET_KEYS = ['pages_per_hour', 'notifications_per_hour'];
const INHIBIT_KEYS = ['source', 'target', 'equal'];
const ESCALATION_KEYS = ['receiver', 'after', 'next'];
const WINDOW_KEYS = ['start', 'end', 'weekdays', 'at', 'duration', 'time_zone', 'comment', 'exclude_from_learning'];
const RECEIVER_KEYS = ['name', 'webhook', 'slack', 'pagerduty', 'alertmanager'];
const ROUTE_KEYS = ['receiver', 'match', 'match_re', 'continue', 'routes'];
const LIMIT_KEYS = ['active_series', 'label_values_per_metric', 'labels_per_series', 'label_value_length', 'out_of_order_tolerance', 'max_future_skew'];
const METRIC_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram'];
const DETECT_ON = ['series', 'aggregate', 'both'] as const;

/** Labels every alert carries, set by Tidemark; rules may not set them. */
export const BUILTIN_ALERT_LABELS = ['tenant', 'rule', 'metric', 'severity', 'owner'] as const;

/** Series ingest derives from a histogram `h`: `h_count`, `h_sum` (counters) and quantiles (gauges). */
const HISTOGRAM_SERIES: ReadonlyArray<readonly [string, MetricType]> = [
  ['_count', 'counter'], ['_sum', 'counter'], ['_p50', 'gauge'], ['_p95', 'gauge'], ['_p99', 'gauge'],
];

const MAX_ROUTE_DEPTH = 16;
const WEEK_MS = 7 * 86_400_000;

const TENANT_ID = /^[a-z][a-z0-9_-]{0,62}$/;
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const OWNER = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;
const ROUTING_KEY = /^[a-zA-Z0-9]{32}$/;

const labelNameProblem = (name: string): string | undefined =>
  !LABEL_NAME.test(name) ? `expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), got ${JSON.stringify(name)}`
  : name.startsWith('__') ? `label names starting with '__' are reserved, got ${JSON.stringify(name)}`
  : undefined;
const isLabelName = (s: string): boolean => labelNameProblem(s) === undefined;

/** A series a selector can name: a declared metric, or one derived from a declared histogram. */
interface Resolved {
  readonly schema: MetricSchema;
  readonly type: MetricType;
  /** Set when the name is derived (`_p99` of this histogram). */
  readonly derivedFrom: string | undefined;
}

class Loader {
  readonly r: Reader;
  readonly metrics = new Map<string, MetricSchema>();
  /** Every metric name seen, valid or not, so a broken metric does not also break each rule. */
  readonly metricNames = new Set<string>();
  /** Receiver names seen, valid or not, so one broken receiver does not break every reference. */
  readonly receiverNames = new Map<string, string>();
  receiversBroken = false;
  /** Whether the file has a routing tree (rules without a receiver need one). */
  hasRoute = false;
  readonly receiverRefs: Array<{ name: string; path: string; node: Node | undefined }> = [];
  readonly routeLabelRefs: Array<{ label: string; value: string | undefined; path: string; node: Node | undefined }> = [];
  // `response_path` (src/alert/route.ts) is set on drift and data-quality alerts only.
  readonly alertLabels = new Set<string>([...BUILTIN_ALERT_LABELS, 'response_path']);
  limits: Limits = DEFAULTS.limits;

  constructor(r: Reader) {
    this.r = r;
  }

  load(root: Node | null): TenantConfig | undefined {
    const r = this.r;
    const f = r.mapping(root, '', TOP_KEYS, ['tenant']);
    if (!f) return undefined;
    if (f.has('version')) r.number(f, 'version', { integer: true, min: 1, max: 1, expected: '1 (the only config version)' });
    const tenant = r.string(f, 'tenant', "a tenant id: lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters", (s) => TENANT_ID.test(s));
    // Limits first: metrics default their label-value limit from them.
    const limits = this.limitsOf(f);
    if (limits) this.limits = limits;
    const metrics = this.metricsOf(f);
    const receivers = r.list(f, 'receivers', (n, p) => this.receiver(n, p));
    this.receiversBroken = f.has('receivers') && !receivers && this.receiverNames.size === 0;
    this.hasRoute = f.has('route');
    const rules = this.rulesOf(f);
    const route = f.has('route') ? this.route(f.get('route'), 'route', 0, undefined, f.keyNode('route')) : undefined;
    const alerting = f.has('alerting') ? this.alerting(f) : undefined;
    // Isolation Forest detectors (src/config/multivariate.ts), with this file's selector checks.
    const selectors = { selector: (mf: Fields, key: string) => { const x = this.selector(mf, key); return x && { sel: x.sel, labelsOf: x.res?.schema.labels }; } };
    const multivariate = f.has('multivariate') ? readMultivariate(r, f, selectors) : undefined;
    // A detector's alerts run under the rule `multivariate:<name>`: a rule of that name would be another owner of them.
    for (const [i, d] of (multivariate ?? []).entries()) {
      const clash = (rules ?? []).find((x) => x.name === multivariateRuleName(d.name));
      if (clash) r.error(`multivariate[${i}].name`, f.get('multivariate'), `its alerts run under the rule name '${clash.name}', which a rule already has: rename the rule or the detector`);
    }
    // What may apply itself from feedback labels (src/config/feedback.ts).
    const feedback = f.has('feedback') ? readFeedback(r, f) : undefined;
    this.checkReferences();
    if (r.issues.length > 0 || !tenant) return undefined;
    return deepFreeze({
      version: DEFAULTS.version,
      tenant,
      metrics: metrics ?? [],
      rules: rules ?? [],
      receivers: receivers ?? [],
      route,
      limits: this.limits,
      alerting,
      ...(multivariate ? { multivariate } : {}),
      ...(feedback ? { feedback } : {}),
    });
  }

  // ---- limits ----

  limitsOf(f: Fields): Limits | undefined {
    const r = this.r;
    const l = r.mappingAt(f, 'limits', LIMIT_KEYS);
    if (!l) return f.has('limits') ? undefined : DEFAULTS.limits;
    const before = r.issues.length;
    const int = (key: string) => r.number(l, key, { integer: true, min: 1 });
    const out: Limits = {
      activeSeries: int('active_series') ?? DEFAULTS.limits.activeSeries,
      labelValuesPerMetric: int('label_values_per_metric') ?? DEFAULTS.limits.labelValuesPerMetric,
      labelsPerSeries: int('labels_per_series') ?? DEFAULTS.limits.labelsPerSeries,
      labelValueLength: int('label_value_length') ?? DEFAULTS.limits.labelValueLength,
      outOfOrderToleranceMs: r.duration(l, 'out_of_order_tolerance', { max: 86_400_000, maxText: '1d' }) ?? DEFAULTS.limits.outOfOrderToleranceMs,
      maxFutureSkewMs: r.duration(l, 'max_future_skew', { max: 86_400_000, maxText: '1d' }) ?? DEFAULTS.limits.maxFutureSkewMs,
    };
    return r.issues.length === before ? out : undefined;
  }

  // ---- metrics ----

  metricsOf(f: Fields): MetricSchema[] | undefined {
    const r = this.r;
    const seen = new Map<string, string>();
    const out = r.list(f, 'metrics', (node, path) => {
      const m = r.mapping(node, path, METRIC_KEYS, ['name', 'type', 'unit', 'labels']);
      if (!m) return undefined;
      const name = r.string(m, 'name', 'a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)', (s) => METRIC_NAME.test(s));
      if (name !== undefined) {
        const prev = seen.get(name);
        if (prev) r.error(m.at('name'), m.get('name'), `metric '${name}' is already defined at ${prev}`);
        else seen.set(name, path);
        this.metricNames.add(name);
      }
      const schema = this.metric(m, name);
      // Valid metrics are usable by rules even when a sibling metric is broken.
      if (schema && !this.metrics.has(schema.name)) this.metrics.set(schema.name, schema);
      return schema;
    });
    // A name that a histogram also derives would be ambiguous in selectors.
    for (const schema of this.metrics.values()) {
      if (schema.type !== 'histogram') continue;
      for (const [suffix] of HISTOGRAM_SERIES) {
        const clash = seen.get(schema.name + suffix);
        if (clash) {
          r.error(childPath(clash, 'name'), r.find(f.get('metrics'), clash.slice('metrics'.length) + '.name'),
            `'${schema.name}${suffix}' is also the ${suffix.slice(1)} series ingest derives from histogram '${schema.name}'; rename one of them`);
        }
      }
    }
    return out;
  }

  metric(m: Fields, name: string | undefined): MetricSchema | undefined {
    const r = this.r;
    const before = r.issues.length;
    const type = r.oneOf(m, 'type', METRIC_TYPES);
    const unit = r.string(m, 'unit', 'a unit such as seconds, bytes, requests or ratio (at most 32 characters)', (s) => s.length <= 32 && !/[\s"'{}]/.test(s));
    const help = m.has('help') ? r.string(m, 'help', 'a one-line description') : '';
    const labels = r.stringList(m, 'labels', 'a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)', isLabelName);
    const deny = r.stringList(m, 'deny_labels', 'a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)', isLabelName) ?? [];
    for (const [i, d] of deny.entries()) {
      if (labels?.includes(d)) r.error(childPath(m.at('deny_labels'), i), r.find(m.get('deny_labels'), `[${i}]`), `'${d}' is both allowed (labels) and denied (deny_labels); keep it in one list`);
    }
    const maxLabelValues = m.has('max_label_values') ? r.number(m, 'max_label_values', { integer: true, min: 1 }) : this.limits.labelValuesPerMetric;
    let range: readonly [number, number] | undefined = type === 'counter' ? DEFAULTS.metric.counterRange : DEFAULTS.metric.otherRange;
    if (m.has('range')) range = this.range(m, type);
    if (r.issues.length !== before || !name || !type || !unit || !labels || !range) return undefined;
    return { name, type, unit, help: help ?? '', min: range[0], max: range[1], labels, denyLabels: deny, maxLabelValues: maxLabelValues! };
  }

  range(m: Fields, type: MetricType | undefined): [number, number] | undefined {
    const r = this.r;
    const path = m.at('range');
    const node = r.deref(m.get('range'), path);
    const expected = 'a range [min, max] of two numbers (.inf and -.inf for open ends)';
    const items = isSeq(node) ? node.items.map((n) => r.deref(n as Node, path)) : undefined;
    const nums = items?.map((n) => (isScalar(n) && typeof n.value === 'number' && !Number.isNaN(n.value) ? n.value : undefined));
    if (!nums || nums.length !== 2 || nums[0] === undefined || nums[1] === undefined) {
      r.error(path, node ?? m.keyNode('range'), `expected ${expected}, got ${describe(node)}`);
      return undefined;
    }
    const [min, max] = nums as [number, number];
    if (!(min < max)) {
      r.error(path, node, `expected min below max, got [${min}, ${max}]`);
      return undefined;
    }
    if (type === 'counter' && min < 0) {
      r.error(path, node, `a counter never goes below 0, got a minimum of ${min}; use 0 or more`);
      return undefined;
    }
    return [min, max];
  }

  /** Looks a selector's metric up, reporting an undeclared one. Quiet if the metric itself was broken. */
  resolve(sel: Selector, path: string, node: Node | null | undefined): Resolved | undefined {
    const schema = this.metrics.get(sel.metric);
    if (schema) return { schema, type: schema.type, derivedFrom: undefined };
    for (const [suffix, type] of HISTOGRAM_SERIES) {
      if (!sel.metric.endsWith(suffix)) continue;
      const base = this.metrics.get(sel.metric.slice(0, -suffix.length));
      if (base?.type === 'histogram') return { schema: base, type, derivedFrom: base.name };
    }
    if (this.metricNames.has(sel.metric)) return undefined; // its own errors are reported
    const declared = [...this.metricNames];
    const known = declared.length ? `declared: ${declared.join(', ')}` : 'no metrics are declared';
    this.r.error(path, node, `metric '${sel.metric}' is not declared under metrics${didYouMean(sel.metric, declared)}; ${known}`);
    return undefined;
  }

  /** Parses a selector string and checks it against the metric's allowed labels. */
  selector(f: Fields, key: string): { sel: Selector; res: Resolved | undefined } | undefined {
    const r = this.r;
    const text = r.string(f, key, `a selector like name{label="value"}`);
    if (text === undefined) return undefined;
    const parsed = parseSelector(text);
    const node = f.get(key);
    if (!parsed.ok) {
      r.error(f.at(key), node, `invalid selector ${JSON.stringify(text)}: ${parsed.error.message}`);
      return undefined;
    }
    const sel = parsed.selector;
    const res = this.resolve(sel, f.at(key), node);
    if (res) {
      for (const mt of sel.matchers) {
        if (!res.schema.labels.includes(mt.label)) {
          r.error(f.at(key), node, `label '${mt.label}' is not an allowed label of metric '${res.schema.name}'${didYouMean(mt.label, res.schema.labels)}; allowed: ${res.schema.labels.join(', ') || '(none)'}`);
        }
      }
    }
    return { sel, res };
  }

  // ---- rules ----

  rulesOf(f: Fields): Rule[] | undefined {
    const seen = new Map<string, string>();
    return this.r.list(f, 'rules', (node, path) => {
      const m = this.r.mapping(node, path, RULE_KEYS, ['name', 'selector', 'aggregation', 'severity', 'owner']);
      if (!m) return undefined;
      const name = this.r.string(m, 'name', "a rule name (letters, digits, '_', '.', ':', '-'; at most 128 characters)", (s) => NAME.test(s));
      if (name !== undefined) {
        const prev = seen.get(name);
        if (prev) this.r.error(m.at('name'), m.get('name'), `rule '${name}' is already defined at ${prev}`);
        else seen.set(name, path);
      }
      return this.rule(m, name);
    });
  }

  rule(m: Fields, name: string | undefined): Rule | undefined {
    const r = this.r;
    const before = r.issues.length;
    const s = this.selector(m, 'selector');
    const aggregation = this.aggregation(m, s?.res);
    // A ratio rule: `selector` is the numerator, `denominator` the total (errors / requests).
    const den = m.has('denominator') ? this.selector(m, 'denominator') : undefined;
    if (den && aggregation && aggregation.fn !== 'rate' && aggregation.fn !== 'sum') {
      r.error(m.at('aggregation'), m.get('aggregation'), `a ratio rule (with denominator) is aggregated as sum(numerator) / sum(denominator): use function rate or sum, not ${aggregation.fn}`);
    }
    const detectOn = m.has('detect_on') ? r.oneOf(m, 'detect_on', DETECT_ON) : den ? 'aggregate' : 'series';
    if (detectOn !== 'series' && s?.res?.type === 'histogram' && !s.res.derivedFrom) {
      const h = s.res.schema.name;
      r.error(m.at('selector'), m.get('selector'), `an aggregate is computed over samples, and histogram '${h}' has none of its own: select ${h}_p99 (or _p50, _p95) for a quantile series, or ${h}_count for its rate`);
    }
    if (den && detectOn === 'series') {
      r.error(m.at('detect_on'), m.get('detect_on'), 'a ratio rule (with denominator) is judged on its aggregate: use detect_on aggregate or both');
    }
    if (den?.res && aggregation?.fn === 'rate' && den.res.type !== 'counter') {
      r.error(m.at('denominator'), m.get('denominator'), `rate needs a counter, and '${den.res.schema.name}' is a ${den.res.type}; use function sum`);
    }
    const detectors = m.has('detectors') ? this.detectors(m) : undefined;
    const sensitivity = this.sensitivity(m);
    const severity = r.oneOf(m, 'severity', SEVERITIES);
    const impact = this.impact(m);
    const owner = r.string(m, 'owner', "an owner: a team or person id (letters, digits, '.', '_', '-', '@'; at most 64 characters)", (x) => OWNER.test(x));
    const receiver = m.has('receiver') ? r.string(m, 'receiver', 'a receiver name') : undefined;
    if (receiver) this.receiverRefs.push({ name: receiver, path: m.at('receiver'), node: m.get('receiver') ?? undefined });
    const dataQualityReceiver = m.has('data_quality_receiver') ? r.string(m, 'data_quality_receiver', 'a receiver name') : undefined;
    if (dataQualityReceiver) this.receiverRefs.push({ name: dataQualityReceiver, path: m.at('data_quality_receiver'), node: m.get('data_quality_receiver') ?? undefined });
    const runbook = m.has('runbook') ? r.url(m, 'runbook') : undefined;
    const mitigationHook = m.has('mitigation_hook') ? r.url(m, 'mitigation_hook') : undefined;
    const groupBy = r.stringList(m, 'group_by', 'a label name', isLabelName) ?? [];
    if (s?.res) {
      const allowed = s.res.schema.labels;
      for (const [i, label] of groupBy.entries()) {
        if (!allowed.includes(label)) {
          r.error(childPath(m.at('group_by'), i), r.find(m.get('group_by'), `[${i}]`), `'${label}' is not an allowed label of metric '${s.res.schema.name}'${didYouMean(label, allowed)}; allowed: ${allowed.join(', ') || '(none)'}`);
        }
      }
    }
    if (den?.res) {
      const allowed = den.res.schema.labels;
      for (const [i, label] of groupBy.entries()) {
        if (!allowed.includes(label)) {
          r.error(childPath(m.at('group_by'), i), r.find(m.get('group_by'), `[${i}]`), `'${label}' is not an allowed label of the denominator metric '${den.res.schema.name}'; allowed: ${allowed.join(', ') || '(none)'}`);
        }
      }
    }
    for (const label of groupBy) this.alertLabels.add(label);
    const labels = m.has('labels') ? this.staticLabels(m) : {};
    const maintenance = r.list(m, 'maintenance', (n, p) => this.window(n, p)) ?? [];
    const timing = this.timing(m);
    const shadow = m.has('shadow') ? r.boolean(m, 'shadow') : false;

    // Severity is policy: paging needs impact and a runbook; only S3 mitigates; S0 only logs.
    if (severity === 'S2' || severity === 'S3') {
      if (!m.has('impact')) r.error(m.at('impact'), m.node, `severity ${severity} pages, and a page needs impact: add impact.limit or impact.slo, or use S1 to notify without paging`);
      if (!m.has('runbook')) r.error(m.at('runbook'), m.node, `severity ${severity} pages, and a page needs a runbook URL`);
    }
    if (severity === 'S3' && !m.has('mitigation_hook')) r.error(m.at('mitigation_hook'), m.node, 'severity S3 runs auto-mitigation: add mitigation_hook (the URL to call), or use S2');
    if (severity !== undefined && severity !== 'S3' && m.has('mitigation_hook')) r.error(m.at('mitigation_hook'), m.keyNode('mitigation_hook'), `mitigation_hook only runs for severity S3, and this rule is ${severity}`);
    if (severity === 'S0' && m.has('receiver')) r.error(m.at('receiver'), m.keyNode('receiver'), 'severity S0 is log-only and never notifies: remove receiver, or use S1 or higher');
    if (severity !== undefined && severity !== 'S0' && !m.has('receiver') && !this.hasRoute) {
      r.error(m.at('receiver'), m.node, `severity ${severity} notifies, but this rule has no receiver and there is no route: set receiver, or add a route with a default receiver`);
    }

    if (r.issues.length !== before || !name || !s || !aggregation || !sensitivity || !severity || !owner || !labels || !timing) return undefined;
    return {
      name, selector: s.sel, aggregation, detectors, sensitivity, severity, impact, owner, receiver, runbook, mitigationHook,
      groupBy, labels, maintenance, timing, ...(den ? { denominator: den.sel } : {}), ...(detectOn !== 'series' ? { detectOn } : {}), ...(shadow ? { shadow: true } : {}),
      ...(dataQualityReceiver ? { dataQualityReceiver } : {}),
    };
  }

  aggregation(m: Fields, res: Resolved | undefined): Aggregation | undefined {
    const r = this.r;
    const a = r.mappingAt(m, 'aggregation', ['function', 'window', 'q'], ['function', 'window']);
    if (!a) return undefined;
    const before = r.issues.length;
    const fn = r.oneOf(a, 'function', AGGREGATION_FUNCTIONS);
    const windowMs = r.duration(a, 'window', { positive: true, max: WEEK_MS, maxText: '1w' });
    let q: number | undefined;
    if (fn === 'quantile') {
      if (!a.has('q')) r.error(a.at('q'), a.node, 'function quantile needs q, the quantile between 0 and 1 (0.99 for p99)');
      else q = r.number(a, 'q', { min: 0, max: 1 });
    } else if (a.has('q') && fn !== undefined) {
      r.error(a.at('q'), a.keyNode('q'), `q only applies to function quantile, not ${fn}`);
    }
    if (fn && res) {
      const at = a.get('function');
      const metric = res.derivedFrom ? `'${res.schema.name}' derived series` : `'${res.schema.name}'`;
      if (fn === 'rate' && res.type !== 'counter') {
        r.error(a.at('function'), at, `rate needs a counter, and ${metric} is a ${res.type}; use avg, min, max, sum or quantile`);
      } else if (res.type === 'histogram' && !res.derivedFrom && fn !== 'quantile') {
        const h = res.schema.name;
        r.error(a.at('function'), at, `'${h}' is a histogram, which only supports quantile; select ${h}_count or ${h}_sum for ${fn}, or ${h}_p99 for one quantile series`);
      }
    }
    if (r.issues.length !== before || !fn || windowMs === undefined) return undefined;
    return { fn, windowMs, q };
  }

  detectors(m: Fields): DetectorEntry[] | undefined {
    const r = this.r;
    let valid: readonly string[];
    try {
      valid = detectorNames();
    } catch (err) {
      r.error(m.at('detectors'), m.get('detectors'), `the detector registry failed: ${(err as Error).message}`);
      return undefined;
    }
    const before = r.issues.length;
    const entries = r.list(m, 'detectors', (node, path) => {
      const d = r.mapping(node, path, ['name', 'config'], ['name']);
      if (!d) return undefined;
      const nameNode = d.get('name');
      const name = r.string(d, 'name', 'a detector name');
      if (name === undefined) return undefined;
      if (!valid.includes(name)) {
        r.error(d.at('name'), nameNode, `unknown detector '${name}'${didYouMean(name, valid)}; valid detectors: ${valid.join(', ')}`, 'TM_ERR_UNKNOWN_DETECTOR');
        return undefined;
      }
      const cfgPath = d.at('config');
      // `config:` left empty means no options, the same as leaving it out.
      const raw = (d.has('config') ? r.plain(d.get('config'), cfgPath) : undefined) ?? undefined;
      try {
        getDetector(name).parseConfig(raw ?? {}, cfgPath);
      } catch (err) {
        this.detectorError(err, name, cfgPath, d.get('config') ?? d.node);
        return undefined;
      }
      return raw === undefined ? { name } : { name, config: raw };
    });
    if (!entries) return undefined;
    if (entries.length === 0) {
      r.error(m.at('detectors'), m.get('detectors') ?? m.keyNode('detectors'), 'an empty list would detect nothing; remove detectors to use the default profile, or list at least one');
      return undefined;
    }
    // Set-level checks (if the fusion stage has any) on top of each entry's own.
    if (r.issues.length === before) {
      try {
        createDetectorSet(entries);
      } catch (err) {
        // The set reports paths from `detectors[i]`, so the rule is the base.
        this.detectorError(err, undefined, m.path, m.node);
        return undefined;
      }
    }
    return entries;
  }

  /** Turns a detector's TidemarkError (path relative to the whole config) into an issue on its line. */
  detectorError(err: unknown, name: string | undefined, basePath: string, base: Node | null | undefined): void {
    const r = this.r;
    if (err instanceof TidemarkError) {
      const message = err.path && err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
      // Detectors are given the full path; one that reports a relative path still gets placed.
      let path = err.path ?? basePath;
      if (!path.startsWith(basePath)) path = /^[[.]/.test(path) ? basePath + path : childPath(basePath, path);
      const rel = path.slice(basePath.length);
      r.error(path, r.find(base, rel) ?? base, message, err.code);
      return;
    }
    const who = name ? `detector '${name}'` : 'the detector set';
    r.error(basePath, base, `${who} rejected this config: ${(err as Error)?.message ?? String(err)}`);
  }

  sensitivity(m: Fields): Sensitivity | undefined {
    const r = this.r;
    const thresholds = DEFAULTS.rule.thresholds;
    if (!m.has('sensitivity')) return { level: DEFAULTS.rule.sensitivity, threshold: thresholds[DEFAULTS.rule.sensitivity] };
    const node = r.deref(m.get('sensitivity'), m.at('sensitivity'));
    const v = isScalar(node) ? node.value : undefined;
    if (typeof v === 'string' && (SENSITIVITY_LEVELS as readonly string[]).includes(v)) {
      const level = v as (typeof SENSITIVITY_LEVELS)[number];
      return { level, threshold: thresholds[level] };
    }
    if (typeof v === 'number' && v > 0 && v < 1) return { level: 'custom', threshold: v };
    const hint = typeof v === 'string' ? didYouMean(v, SENSITIVITY_LEVELS) : '';
    r.error(m.at('sensitivity'), node ?? m.keyNode('sensitivity'), `expected low, medium, high, or a score threshold between 0 and 1 (exclusive), got ${describe(node)}${hint}`);
    return undefined;
  }

  impact(m: Fields): ImpactGate | undefined {
    const r = this.r;
    const f = r.mappingAt(m, 'impact', ['limit', 'slo']);
    if (!f) return undefined;
    if (f.has('limit') === f.has('slo')) {
      r.error(f.path, f.node, `expected exactly one of limit (a hard limit on an impact metric) or slo (an error-budget burn rate), got ${f.has('limit') ? 'both' : 'neither'}`);
      return undefined;
    }
    return f.has('limit') ? this.limitGate(f) : this.sloGate(f);
  }

  limitGate(f: Fields): ImpactGate | undefined {
    const r = this.r;
    const l = r.mappingAt(f, 'limit', ['selector', 'above', 'below'], ['selector']);
    if (!l) return undefined;
    const before = r.issues.length;
    const s = this.selector(l, 'selector');
    if (s?.res && s.res.type === 'histogram' && !s.res.derivedFrom) {
      const h = s.res.schema.name;
      r.error(l.at('selector'), l.get('selector'), `'${h}' is a histogram, not one value; select ${h}_p99 (or _p50, _p95, _count, _sum)`);
    }
    if (l.has('above') === l.has('below')) {
      r.error(l.path, l.node, `expected exactly one of above or below, got ${l.has('above') ? 'both' : 'neither'}`);
      return undefined;
    }
    const op = l.has('above') ? 'above' : 'below';
    const value = r.number(l, op, { expected: 'a finite number', min: -Number.MAX_VALUE, max: Number.MAX_VALUE });
    if (r.issues.length !== before || !s || value === undefined) return undefined;
    return { kind: 'limit', selector: s.sel, op, value };
  }

  sloGate(f: Fields): ImpactGate | undefined {
    const r = this.r;
    const g = r.mappingAt(f, 'slo', ['objective', 'errors', 'total', 'windows'], ['objective', 'errors', 'total']);
    if (!g) return undefined;
    const before = r.issues.length;
    const objective = r.number(g, 'objective', { min: 0, max: 100, minExclusive: true, maxExclusive: true, expected: 'a percentage above 0 and below 100, like 99.9' });
    const errors = this.selector(g, 'errors');
    const total = this.selector(g, 'total');
    for (const [key, s] of [['errors', errors], ['total', total]] as const) {
      if (s?.res && s.res.type !== 'counter') {
        r.error(g.at(key), g.get(key), `a burn rate is a ratio of counter rates, and '${s.sel.metric}' is a ${s.res.type}; select a counter (for a histogram, its _count)`);
      }
    }
    if (errors && total && errors.sel.text === total.sel.text) {
      r.error(g.at('errors'), g.get('errors'), 'errors and total are the same selector, so the error ratio would always be 1; narrow errors with a matcher like code=~"5.."');
    }
    const budget = objective === undefined ? undefined : 1 - objective / 100;
    const windows = g.has('windows')
      ? r.list(g, 'windows', (node, path) => {
        const w = r.mapping(node, path, ['long', 'short', 'burn_rate'], ['long', 'short', 'burn_rate']);
        if (!w) return undefined;
        const b = r.issues.length;
        const longMs = r.duration(w, 'long', { positive: true, max: 30 * 86_400_000, maxText: '30d' });
        const shortMs = r.duration(w, 'short', { positive: true, max: 30 * 86_400_000, maxText: '30d' });
        const burnRate = r.number(w, 'burn_rate', { min: 0, minExclusive: true });
        if (longMs !== undefined && shortMs !== undefined && shortMs >= longMs) {
          r.error(w.at('short'), w.get('short'), `the short window confirms the long one and must be shorter: ${formatDuration(shortMs)} is not shorter than ${formatDuration(longMs)}`);
        }
        if (burnRate !== undefined && budget !== undefined && burnRate * budget >= 1) {
          r.error(w.at('burn_rate'), w.get('burn_rate'),
            `burn rate ${burnRate} with objective ${objective} needs an error ratio of ${+(burnRate * budget * 100).toPrecision(4)}%, which can never happen; lower burn_rate or raise the objective`);
        }
        return r.issues.length === b ? ({ longMs: longMs!, shortMs: shortMs!, burnRate: burnRate! } satisfies BurnRateWindow) : undefined;
      })
      : DEFAULTS.slo.windows;
    if (windows && windows.length === 0) r.error(g.at('windows'), g.get('windows'), 'expected at least one window; remove windows to use the defaults (14.4x over 1h & 5m, 6x over 6h & 30m)');
    if (g.has('windows') === false && budget !== undefined) {
      for (const w of DEFAULTS.slo.windows) {
        if (w.burnRate * budget >= 1) {
          r.error(g.at('objective'), g.get('objective'), `objective ${objective} is too low for the default burn rate ${w.burnRate}x (it would need an error ratio of ${+(w.burnRate * budget * 100).toPrecision(4)}%); set windows with lower burn rates`);
          break;
        }
      }
    }
    if (r.issues.length !== before || objective === undefined || !errors || !total || !windows) return undefined;
    return { kind: 'slo', objective, errors: errors.sel, total: total.sel, windows };
  }

  staticLabels(m: Fields): Record<string, string> | undefined {
    const labels = this.r.stringMap(
      m, 'labels',
      (k) => labelNameProblem(k) ?? ((BUILTIN_ALERT_LABELS as readonly string[]).includes(k) ? `'${k}' is set by Tidemark on every alert; choose another label name` : undefined),
      (v) => (v.length === 0 || v.length > 256 ? `expected a label value of 1 to 256 characters, got ${JSON.stringify(v.slice(0, 60))}` : undefined),
    );
    for (const k of Object.keys(labels ?? {})) this.alertLabels.add(k);
    return labels;
  }

  window(node: Node | null | undefined, path: string): MaintenanceWindow | undefined {
    const r = this.r;
    const w = r.mapping(node, path, WINDOW_KEYS);
    if (!w) return undefined;
    const once = w.has('start') || w.has('end');
    const recurring = w.has('weekdays') || w.has('at') || w.has('duration') || w.has('time_zone');
    if (once === recurring) {
      r.error(path, w.node, once
        ? 'a window is either one-off (start, end) or recurring (weekdays, at, duration, time_zone), not both'
        : 'a window needs start and end (one-off), or weekdays, at and duration (recurring)');
      return undefined;
    }
    const before = r.issues.length;
    const comment = w.has('comment') ? r.string(w, 'comment', 'a short note') : '';
    // A known event (migration, load test) should not become the detectors' new normal.
    const excludeFromLearning = w.has('exclude_from_learning') ? r.boolean(w, 'exclude_from_learning') : false;
    if (once) {
      for (const key of ['start', 'end']) if (!w.has(key)) r.error(w.at(key), w.node, `required key '${key}' is missing`);
      const instant = (key: string) => {
        if (!w.has(key)) return undefined;
        return r.string(w, key, 'an RFC 3339 time with an offset, like 2025-07-01T02:00:00Z or 2025-07-01T04:00:00+02:00', (s) => parseTimestamp(s) !== undefined);
      };
      const start = instant('start');
      const end = instant('end');
      const startMs = start === undefined ? undefined : parseTimestamp(start)!;
      const endMs = end === undefined ? undefined : parseTimestamp(end)!;
      if (startMs !== undefined && endMs !== undefined && endMs <= startMs) r.error(w.at('end'), w.get('end'), `end must be after start (${start})`);
      if (r.issues.length !== before || startMs === undefined || endMs === undefined) return undefined;
      return { kind: 'once', startMs, endMs, comment: comment ?? '', excludeFromLearning: excludeFromLearning ?? false };
    }
    for (const key of ['weekdays', 'at', 'duration']) if (!w.has(key)) r.error(w.at(key), w.node, `required key '${key}' is missing`);
    const days = w.has('weekdays') ? r.stringList(w, 'weekdays', 'a weekday: mon, tue, wed, thu, fri, sat or sun', (s) => parseWeekday(s) !== undefined) : undefined;
    const weekdays = days?.map((d) => parseWeekday(d)!);
    if (weekdays && new Set(weekdays).size !== weekdays.length) r.error(w.at('weekdays'), w.get('weekdays'), 'a weekday is listed twice');
    if (weekdays && weekdays.length === 0) r.error(w.at('weekdays'), w.get('weekdays'), 'expected at least one weekday');
    const at = w.has('at') ? r.string(w, 'at', 'a time of day HH:MM on a 24-hour clock, like 02:30 (quote it)', (s) => parseTimeOfDay(s) !== undefined) : undefined;
    const durationMs = w.has('duration') ? r.duration(w, 'duration', { positive: true, max: WEEK_MS, maxText: '1w' }) : undefined;
    let timeZone: string | undefined = DEFAULTS.maintenance.timeZone;
    if (w.has('time_zone')) {
      const name = r.string(w, 'time_zone', 'an IANA time zone name like Europe/Berlin or UTC');
      timeZone = name === undefined ? undefined : canonicalTimeZone(name);
      if (name !== undefined && timeZone === undefined) {
        const hint = didYouMean(name, [...Intl.supportedValuesOf('timeZone'), 'UTC']);
        r.error(w.at('time_zone'), w.get('time_zone'), `unknown time zone '${name}'${hint}; use an IANA name like Europe/Berlin or UTC`);
      }
    }
    if (r.issues.length !== before || !weekdays || at === undefined || durationMs === undefined || !timeZone) return undefined;
    const order = (d: Weekday) => ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].indexOf(d);
    return { kind: 'recurring', weekdays: [...weekdays].sort((a, b) => order(a) - order(b)), startMinute: parseTimeOfDay(at)!, durationMs, timeZone, comment: comment ?? '', excludeFromLearning: excludeFromLearning ?? false };
  }

  timing(m: Fields): AlertTiming | undefined {
    const r = this.r;
    const d = DEFAULTS.rule.timing;
    if (!m.has('timing')) return d;
    const t = r.mappingAt(m, 'timing', TIMING_KEYS);
    if (!t) return undefined;
    const before = r.issues.length;
    const day = { max: 7 * 86_400_000, maxText: '1w' };
    const out: AlertTiming = {
      forMs: r.duration(t, 'for', day) ?? d.forMs,
      keepFiringForMs: r.duration(t, 'keep_firing_for', day) ?? d.keepFiringForMs,
      groupWaitMs: r.duration(t, 'group_wait', day) ?? d.groupWaitMs,
      groupIntervalMs: r.duration(t, 'group_interval', { ...day, positive: true }) ?? d.groupIntervalMs,
      repeatIntervalMs: r.duration(t, 'repeat_interval', { max: 30 * 86_400_000, maxText: '30d', positive: true }) ?? d.repeatIntervalMs,
      flap: this.flap(t) ?? d.flap,
    };
    if (r.issues.length === before && out.repeatIntervalMs < out.groupIntervalMs) {
      r.error(t.at('repeat_interval'), t.get('repeat_interval') ?? t.get('group_interval') ?? t.node,
        `repeat_interval (${formatDuration(out.repeatIntervalMs)}) must be at least group_interval (${formatDuration(out.groupIntervalMs)})`);
    }
    return r.issues.length === before ? out : undefined;
  }

  // ---- alerting policy ----

  /**
   * `trigger: {m, n}` and `recovery: {points}` of `anti_flap` or a rule's `timing`, checked by
   * the alert stage's own merge (resolvePolicy) so both agree on what is valid.
   */
  flap(f: Fields): RuleFlap | undefined {
    const r = this.r;
    if (!f.has('trigger') && !f.has('recovery')) return undefined;
    const before = r.issues.length;
    const out: { triggerM?: number; triggerN?: number; recoveryPoints?: number } = {};
    const trigger = r.mappingAt(f, 'trigger', ['m', 'n'], ['m', 'n']);
    if (trigger) {
      out.triggerM = r.number(trigger, 'm', { integer: true, min: 1 });
      out.triggerN = r.number(trigger, 'n', { integer: true, min: 1 });
    }
    const recovery = r.mappingAt(f, 'recovery', ['points'], ['points']);
    if (recovery) out.recoveryPoints = r.number(recovery, 'points', { integer: true, min: 1 });
    if (r.issues.length !== before) return undefined;
    for (const k of Object.keys(out) as Array<keyof typeof out>) if (out[k] === undefined) delete out[k];
    return this.policyCheck({ flap: out }, f.node, f.path) ? out : undefined;
  }

  alerting(f: Fields): AlertingConfig | undefined {
    const r = this.r;
    const a = r.mappingAt(f, 'alerting', ALERTING_KEYS);
    if (!a) return undefined;
    const before = r.issues.length;
    const out: Record<string, unknown> = {};
    const af = r.mappingAt(a, 'anti_flap', ANTI_FLAP_KEYS);
    if (af) {
      const flap: Record<string, number> = { ...this.flap(af) };
      if (af.has('no_data_after')) {
        const ms = r.duration(af, 'no_data_after', { positive: true, max: WEEK_MS, maxText: '1w' });
        if (ms !== undefined) flap.noDataAfterMs = ms;
      }
      out.flap = flap;
    }
    const b = r.mappingAt(a, 'budgets', BUDGETS_KEYS);
    if (b) {
      if (b.has('tenant')) out.tenantBudget = this.budget(r.mappingAt(b, 'tenant', BUDGET_KEYS));
      if (b.has('each_receiver')) out.receiverBudget = this.budget(r.mappingAt(b, 'each_receiver', BUDGET_KEYS));
      if (b.has('receivers')) {
        const seen = new Map<string, string>();
        const per: Record<string, unknown> = {};
        r.list(b, 'receivers', (node, path) => {
          const m = r.mapping(node, path, ['name', ...BUDGET_KEYS], ['name']);
          if (!m) return undefined;
          const name = r.string(m, 'name', 'a receiver name');
          if (name === undefined) return undefined;
          const prev = seen.get(name);
          if (prev) {
            r.error(m.at('name'), m.get('name'), `receiver '${name}' already has a budget at ${prev}`);
            return undefined;
          }
          seen.set(name, path);
          this.receiverRefs.push({ name, path: m.at('name'), node: m.get('name') ?? undefined });
          if (!m.has('pages_per_hour') && !m.has('notifications_per_hour')) {
            r.error(path, m.node, 'expected pages_per_hour or notifications_per_hour (or both) next to the receiver name');
            return undefined;
          }
          // Own property, so a receiver named like an Object.prototype key stays data.
          Object.defineProperty(per, name, { value: this.budget(m), enumerable: true, writable: true, configurable: true });
          return name;
        });
        out.receiverBudgets = per;
      }
      if (b.has('summary_delay')) out.budgetSummaryDelayMs = r.duration(b, 'summary_delay', { max: 86_400_000, maxText: '1d' });
    }
    if (a.has('inhibit_rules')) out.inhibitRules = r.list(a, 'inhibit_rules', (n, p) => this.inhibitRule(n, p));
    if (a.has('escalation')) {
      out.escalations = r.list(a, 'escalation', (node, path) => {
        const e = r.mapping(node, path, ESCALATION_KEYS, ESCALATION_KEYS);
        if (!e) return undefined;
        const b0 = r.issues.length;
        const receiver = r.string(e, 'receiver', 'a receiver name');
        const next = r.string(e, 'next', 'a receiver name');
        const afterMs = r.duration(e, 'after', { positive: true, max: 86_400_000, maxText: '1d' });
        for (const [key, name] of [['receiver', receiver], ['next', next]] as const) {
          if (name !== undefined) this.receiverRefs.push({ name, path: e.at(key), node: e.get(key) ?? undefined });
        }
        if (r.issues.length !== b0 || receiver === undefined || next === undefined || afterMs === undefined) return undefined;
        return { receiver, next, afterMs };
      });
    }
    if (a.has('ack_ttl')) out.ackTtlMs = r.duration(a, 'ack_ttl', { positive: true, max: 30 * 86_400_000, maxText: '30d' });
    if (r.issues.length !== before) return undefined;
    if (!this.policyCheck(out, a.node, 'alerting')) return undefined;
    this.checkEscalationCycles(a, out.escalations as AlertingConfig['escalations']);
    return out as AlertingConfig;
  }

  budget(m: Fields | undefined): Record<string, number> | undefined {
    if (!m) return undefined;
    const out: Record<string, number> = {};
    const pages = m.has('pages_per_hour') ? this.r.number(m, 'pages_per_hour', { integer: true, min: 0 }) : undefined;
    const notes = m.has('notifications_per_hour') ? this.r.number(m, 'notifications_per_hour', { integer: true, min: 0 }) : undefined;
    if (pages !== undefined) out.pagesPerHour = pages;
    if (notes !== undefined) out.notificationsPerHour = notes;
    return out;
  }

  inhibitRule(node: Node | null | undefined, path: string): InhibitRule | undefined {
    const r = this.r;
    const f = r.mapping(node, path, INHIBIT_KEYS, ['source', 'target']);
    if (!f) return undefined;
    const before = r.issues.length;
    const source = this.matchers(f, 'source');
    const target = this.matchers(f, 'target');
    const equal = r.stringList(f, 'equal', 'a label name', isLabelName) ?? [];
    for (const [i, label] of equal.entries()) {
      this.routeLabelRefs.push({ label, value: undefined, path: childPath(f.at('equal'), i), node: r.find(f.get('equal'), `[${i}]`) });
    }
    if (r.issues.length !== before || !source || !target) return undefined;
    return { source, target, equal };
  }

  /** `'{severity="S3", region=~"eu-.*"}'`: the braces of a selector, without a metric name. */
  matchers(f: Fields, key: string): Matcher[] | undefined {
    const r = this.r;
    const text = r.string(f, key, `label matchers in braces like '{severity="S3", region=~"eu-.*"}' (quote it)`);
    if (text === undefined) return undefined;
    const node = f.get(key);
    const parsed = parseMatchers(text);
    if (!parsed.ok) {
      r.error(f.at(key), node, `invalid matchers ${JSON.stringify(text)}: ${parsed.error.message}`);
      return undefined;
    }
    if (parsed.matchers.length === 0) {
      r.error(f.at(key), node, `expected at least one matcher: empty braces match every alert of the tenant`);
      return undefined;
    }
    for (const m of parsed.matchers) this.routeLabelRefs.push({ label: m.label, value: m.op === '=' ? m.value : undefined, path: f.at(key), node: node ?? undefined });
    return parsed.matchers.map((m) => ({ name: m.label, op: m.op, value: m.value }));
  }

  /**
   * Runs the alert stage's strict merge over its defaults, so every value the stage would
   * refuse is refused here, at load, on the line it came from. Its paths name the policy's
   * fields; `yamlPath` turns them back into this file's keys.
   */
  policyCheck(partial: unknown, node: Node | null | undefined, base: string): boolean {
    try {
      resolvePolicy(partial);
      return true;
    } catch (err) {
      if (!(err instanceof TidemarkError)) throw err;
      const path = yamlPath(err.path ?? 'alerting', base, partial);
      let message = err.path && err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
      message = message.replace(/^expected an integer in \[(\d+), (\d+)\]/, 'expected an integer from $1 up to $2');
      if (path.endsWith('trigger.m')) message += '; m anomalous points among the last n trigger, so m cannot exceed n';
      this.r.error(path, this.r.find(node, path.slice(base.length)) ?? node, message, err.code);
      return false;
    }
  }

  /** Escalating a -> b -> a would page the two in turn until someone acknowledges. */
  checkEscalationCycles(a: Fields, escalations: AlertingConfig['escalations']): void {
    if (!escalations) return;
    const next = new Map(escalations.map((e) => [e.receiver, e.next]));
    for (const [i, e] of escalations.entries()) {
      const chain = [e.receiver];
      let cur = e.next;
      while (cur !== undefined && !chain.includes(cur)) {
        chain.push(cur);
        cur = next.get(cur)!;
      }
      // Reported once, on the entry whose receiver starts the loop.
      if (cur === e.receiver && chain.every((n) => escalations.findIndex((x) => x.receiver === n) >= i)) {
        const path = `${childPath(a.at('escalation'), i)}.next`;
        this.r.error(path, this.r.find(a.get('escalation'), `[${i}].next`), `escalation loops back: ${[...chain, e.receiver].join(' -> ')}; an unacknowledged page would go round forever, so end the chain`);
      }
    }
  }

  // ---- receivers and routes ----

  receiver(node: Node | null | undefined, path: string): Receiver | undefined {
    const r = this.r;
    const f = r.mapping(node, path, RECEIVER_KEYS, ['name']);
    if (!f) return undefined;
    const before = r.issues.length;
    const name = r.string(f, 'name', "a receiver name (letters, digits, '_', '.', ':', '-')", (s) => NAME.test(s));
    if (name !== undefined) {
      const prev = this.receiverNames.get(name);
      if (prev) r.error(f.at('name'), f.get('name'), `receiver '${name}' is already defined at ${prev}`);
      else this.receiverNames.set(name, path);
    }
    if (!['webhook', 'slack', 'pagerduty', 'alertmanager'].some((k) => f.has(k))) {
      r.error(path, f.node, 'a receiver needs at least one of webhook, slack, pagerduty or alertmanager');
    }
    const hook = r.mappingAt(f, 'webhook', ['url'], ['url']);
    const webhookUrl = hook && r.url(hook, 'url');
    const slack = r.mappingAt(f, 'slack', ['webhook_url', 'channel'], ['webhook_url']);
    const slackUrl = slack && r.url(slack, 'webhook_url', true);
    const channel = slack?.has('channel') ? r.string(slack, 'channel', "a channel like '#payments' (quote it: # starts a YAML comment)", (s) => /^[#@]?[a-z0-9][a-z0-9._-]{0,79}$/.test(s)) : undefined;
    const pd = r.mappingAt(f, 'pagerduty', ['routing_key'], ['routing_key']);
    const routingKey = pd && r.string(pd, 'routing_key', 'a 32-character PagerDuty Events API v2 integration key', (s) => ROUTING_KEY.test(s));
    const am = r.mappingAt(f, 'alertmanager', ['url'], ['url']);
    const amUrl = am && r.url(am, 'url');
    if (r.issues.length !== before || !name) return undefined;
    return {
      name,
      webhook: webhookUrl ? { url: webhookUrl } : undefined,
      slack: slackUrl ? { webhookUrl: slackUrl, channel } : undefined,
      pagerduty: routingKey ? { routingKey } : undefined,
      alertmanager: amUrl ? { url: amUrl } : undefined,
    };
  }

  route(node: Node | null | undefined, path: string, depth: number, parentReceiver: string | undefined, at?: Node): Route | undefined {
    const r = this.r;
    const f = r.mapping(node, path, ROUTE_KEYS, depth === 0 ? ['receiver'] : [], at);
    if (!f) return undefined;
    if (depth > MAX_ROUTE_DEPTH) {
      r.error(path, f.node, `routes are nested more than ${MAX_ROUTE_DEPTH} levels deep`);
      return undefined;
    }
    const before = r.issues.length;
    if (depth === 0) {
      for (const key of ['match', 'match_re', 'continue']) {
        if (f.has(key)) r.error(f.at(key), f.keyNode(key), `the root route matches every alert and cannot have ${key}; put it on a child route under routes`);
      }
    }
    const own = f.has('receiver') ? r.string(f, 'receiver', 'a receiver name') : undefined;
    if (own) this.receiverRefs.push({ name: own, path: f.at('receiver'), node: f.get('receiver') ?? undefined });
    const match = (f.has('match') && depth > 0 ? r.stringMap(f, 'match', labelNameProblem, () => undefined) : {}) ?? {};
    const matchRe = (f.has('match_re') && depth > 0 ? r.stringMap(f, 'match_re', labelNameProblem, (v) => {
      const problem = checkRegex(v);
      return problem ? `invalid regular expression ${JSON.stringify(v)}: ${problem}` : undefined;
    }) : {}) ?? {};
    for (const [key, map] of [['match', match], ['match_re', matchRe]] as const) {
      for (const [label, value] of Object.entries(map)) {
        const path2 = childPath(f.at(key), label);
        const node2 = r.find(f.get(key), `.${label}`);
        this.routeLabelRefs.push({ label, value: key === 'match' ? value : undefined, path: path2, node: node2 });
      }
    }
    const cont = f.has('continue') && depth > 0 ? r.boolean(f, 'continue') : false;
    const receiver = own ?? parentReceiver;
    const routes = r.list(f, 'routes', (n, p) => this.route(n, p, depth + 1, receiver)) ?? [];
    if (r.issues.length !== before || !receiver || cont === undefined) return undefined;
    return { receiver, match, matchRe, continue: cont, routes };
  }

  checkReferences(): void {
    const r = this.r;
    const names = [...this.receiverNames.keys()];
    // A receivers key that is not a list was reported; every reference failing too is noise.
    if (this.receiversBroken) return;
    for (const ref of this.receiverRefs) {
      if (this.receiverNames.has(ref.name)) continue;
      const known = names.length ? `defined receivers: ${names.join(', ')}` : 'no receivers are defined';
      r.error(ref.path, ref.node, `receiver '${ref.name}' is not defined${didYouMean(ref.name, names)}; ${known}`);
    }
    for (const ref of this.routeLabelRefs) {
      if (!this.alertLabels.has(ref.label)) {
        const hint = closest(ref.label, this.alertLabels);
        r.error(ref.path, ref.node, `no alert carries label '${ref.label}'${hint ? ` (did you mean '${hint}'?)` : ''}: alerts carry ${BUILTIN_ALERT_LABELS.join(', ')}, plus each rule's group_by and labels`);
      } else if (ref.label === 'severity' && ref.value !== undefined && !(SEVERITIES as readonly string[]).includes(ref.value)) {
        r.error(ref.path, ref.node, `severity is one of ${SEVERITIES.join(', ')}, so ${JSON.stringify(ref.value)} never matches`);
      }
    }
  }
}

/** Policy field names as this file spells them (see `Loader.policyCheck`). */
const POLICY_KEYS: Record<string, string> = {
  flap: 'anti_flap', triggerM: 'trigger.m', triggerN: 'trigger.n', recoveryPoints: 'recovery.points', noDataAfterMs: 'no_data_after',
  tenantBudget: 'budgets.tenant', receiverBudget: 'budgets.each_receiver', budgetSummaryDelayMs: 'budgets.summary_delay',
  pagesPerHour: 'pages_per_hour', notificationsPerHour: 'notifications_per_hour',
  inhibitRules: 'inhibit_rules', escalations: 'escalation', afterMs: 'after', ackTtlMs: 'ack_ttl',
};

/**
 * `alerting.flap.triggerM` -> `alerting.anti_flap.trigger.m` (or `rules[0].timing.trigger.m`
 * when `base` is a rule's timing), `alerting.receiverBudgets.pager.x` -> `...receivers[i].x`.
 */
function yamlPath(policyPath: string, base: string, partial: unknown): string {
  const parts = policyPath.replace(/^alerting\.?/, '').split('.').filter(Boolean);
  // A rule's timing holds trigger/recovery directly, not under anti_flap.
  if (base !== 'alerting' && parts[0] === 'flap') parts.shift();
  const out: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const [, name, index = ''] = /^([^[]*)(.*)$/.exec(parts[i])!;
    if (name === 'receiverBudgets' && i + 1 < parts.length) {
      const names = Object.keys((partial as { receiverBudgets?: object }).receiverBudgets ?? {});
      out.push(`budgets.receivers[${Math.max(0, names.indexOf(parts[++i]))}]`);
      continue;
    }
    out.push((POLICY_KEYS[name] ?? name) + index);
  }
  return [base, ...out].join('.');
}

const YAML_MESSAGES: Partial<Record<string, string>> = {
  MULTIPLE_DOCS: 'the file holds more than one YAML document (a second ---); one file configures one tenant',
  TAB_AS_INDENT: 'tabs are not allowed for indentation in YAML; use spaces',
  TAG_RESOLVE_FAILED: 'YAML tags (!name) are not supported here; remove the tag',
};

function loadText(text: string, source: string): LoadResult {
  const lineCounter = new LineCounter();
  const fail = (issues: ConfigIssue[]): LoadResult => ({ source, config: undefined, errors: issues });
  if (text.length > MAX_CONFIG_BYTES) {
    return fail([{ code: 'TM_ERR_INPUT', path: '', line: undefined, message: `the file is larger than ${MAX_CONFIG_BYTES} bytes; a tenant config is a few hundred lines` }]);
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true, version: '1.2', merge: false });
  const r = new Reader(doc, lineCounter);
  // Duplicate keys are reported by the walker, which knows their path.
  const syntax = [...doc.errors, ...doc.warnings].filter((e) => e.code !== 'DUPLICATE_KEY');
  for (const e of syntax) {
    const message = YAML_MESSAGES[e.code] ?? `YAML syntax: ${e.message.replace(/\s+/g, ' ').trim()}`;
    r.issues.push({ code: 'TM_ERR_INPUT', path: '', line: r.lineAt(e.pos[0]), message });
  }
  if (r.issues.length > 0) return fail(r.issues);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    return fail([{ code: 'TM_ERR_CONFIG', path: '', line: undefined, message: "the file is empty; a tenant config needs at least 'tenant:'" }]);
  }
  const loader = new Loader(r);
  checkDuplicates(r, doc.contents as Node, '');
  const config = loader.load(doc.contents as Node);
  const errors = [...r.issues].sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  return errors.length ? fail(errors) : { source, config, errors: [] };
}

/** Reports keys that appear twice in one mapping, anywhere in the document. */
function checkDuplicates(r: Reader, node: Node | null, path: string, depth = 0): void {
  if (!node || depth > 64) return;
  if (isMap(node)) {
    const seen = new Map<string, number | undefined>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key !== undefined) {
        if (seen.has(key)) {
          const first = seen.get(key);
          r.error(childPath(path, key), pair.key as Node, `key '${key}' appears twice in this mapping${first ? ` (first on line ${first})` : ''}; keep one`);
        } else seen.set(key, r.lineOf(pair.key as Node));
      }
      checkDuplicates(r, pair.value as Node | null, key === undefined ? path : childPath(path, key), depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => checkDuplicates(r, item as Node | null, childPath(path, i), depth + 1));
  }
}

/**
 * Parses and validates one tenant's config. Never throws: every problem is in `errors`, each
 * with a path and a line, and `config` (deeply frozen) is set only when there are none.
 * @example
 * const { config, errors } = loadConfig(readFileSync('tidemark.yaml', 'utf8'), 'tidemark.yaml');
 * for (const e of errors) console.error(formatConfigIssue(e));
 */
export function loadConfig(text: string, source = '<config>'): LoadResult {
  try {
    return loadText(text, source);
  } catch (err) {
    // A bug, not the user's fault; still a result, so a server keeps running on its old config.
    const message = `internal error while loading the config (please report it): ${(err as Error)?.stack ?? String(err)}`;
    return { source, config: undefined, errors: [{ code: 'TM_ERR_CONFIG', path: '', line: undefined, message }] };
  }
}

/** Like `loadConfig`, but throws one TidemarkError listing every problem (for startup code). */
export function loadConfigOrThrow(text: string, source = '<config>'): TenantConfig {
  const { config, errors } = loadConfig(text, source);
  if (config) return config;
  const lines = errors.map((e) => `  ${e.path || '(root)'}${e.line === undefined ? '' : ` (line ${e.line})`}: ${e.message}`);
  throw new TidemarkError(errors[0]?.code ?? 'TM_ERR_CONFIG', `${errors.length} problem(s) in ${source}:\n${lines.join('\n')}`, source);
}
