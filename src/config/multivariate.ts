/**
 * The `multivariate:` section: Isolation Forest detectors over a set of series joined on
 * labels and aligned in time. Strict like the rest of the file; see README "Configuration".
 *
 * ```yaml
 * multivariate:
 *   - name: service-health
 *     features:                       # a selector, or {name, selector}; one series per entity each
 *       - name: latency_p95
 *         selector: http_latency_ms_p95
 *       - http_requests_rate          # named after its metric
 *     join_on: [service]              # labels that name the entity; every feature must carry them
 *     step: 1m                        # alignment: one vector per entity per step
 *     threshold: 0.9                  # score that records an anomaly (default 0.9)
 *     owner: platform
 *     severity: S1                    # of its alerts: S0 log-only, S1 notify (default), S2 page
 *     cascade: { level: 0.5, every: 5 }  # score only while a member series scores >= level, else every 5th step
 *     forest: { trees: 100, sample_size: 256, reservoir: 2048, min_fit: 1440, refit_every: 256 }
 * ```
 */
import { isMap, YAMLMap, type Node } from 'yaml';
import { DEFAULTS } from './defaults.ts';
import { childPath, Fields, type Reader } from './reader.ts';
import type { Selector } from './selector.ts';
import type { Rule, Severity } from './types.ts';

export interface MultivariateFeature {
  /** Name used in explanations ("latency_p95 up while qps flat"). */
  readonly name: string;
  readonly selector: Selector;
}

export interface MultivariateCascade {
  /** A member series' fused score at or above this makes the next vector of its entity scored. */
  readonly level: number;
  /** Otherwise every `every`-th vector is scored (1: all of them, no cascade). */
  readonly every: number;
}

export interface MultivariateForest {
  readonly trees: number;
  readonly sampleSize: number;
  readonly reservoir: number;
  readonly minFit: number;
  readonly refitEvery: number;
}

export interface MultivariateDetector {
  readonly name: string;
  readonly features: readonly MultivariateFeature[];
  readonly joinOn: readonly string[];
  readonly stepMs: number;
  readonly threshold: number;
  readonly owner: string | undefined;
  /** Severity of its alerts (S0 log-only, S1 notify, S2 page); S3 would need a mitigation hook. */
  readonly severity: Severity;
  readonly cascade: MultivariateCascade;
  readonly forest: MultivariateForest;
}

export const MULTIVARIATE_DEFAULTS = Object.freeze({
  threshold: 0.9,
  severity: 'S1' as Severity, // notify: a combination no single series shows is worth a look, not yet a page
  // Alerts: a forest score is noisier than a series' fused score, so one odd vector never
  // alerts; 3 of the last 5 scored vectors do, and 5 normal ones in a row resolve.
  flap: Object.freeze({ triggerM: 3, triggerN: 5, recoveryPoints: 5 }),
  cascade: Object.freeze({ level: 0.5, every: 5 }), // 5 steps: a sustained break is still seen within 5 min at 1m
  // Vectors: keep 34 h of 1m steps; the first fit waits for a day (a whole daily cycle).
  forest: Object.freeze({ trees: 100, sampleSize: 256, reservoir: 2048, minFit: 1440, refitEvery: 256 }),
});

const KEYS = ['name', 'features', 'join_on', 'step', 'threshold', 'owner', 'severity', 'cascade', 'forest'];
const SEVERITIES: readonly Severity[] = ['S0', 'S1', 'S2'];
const FEATURE_KEYS = ['name', 'selector'];
const CASCADE_KEYS = ['level', 'every'];
const FOREST_KEYS = ['trees', 'sample_size', 'reservoir', 'min_fit', 'refit_every'];
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$/;
const FEATURE_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const OWNER = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;
const MAX_FEATURES = 32;

/** What the loader lends: its selector parser (resolves metrics, checks label names). */
export interface SelectorParser {
  selector(f: Fields, key: string): { sel: Selector; labelsOf: readonly string[] | undefined } | undefined;
}

/** Reads `multivariate:`; undefined (with issues recorded) when anything is wrong. */
export function readMultivariate(r: Reader, top: Fields, p: SelectorParser): MultivariateDetector[] | undefined {
  const seen = new Map<string, string>();
  const out = r.list(top, 'multivariate', (node, path) => {
    const m = r.mapping(node, path, KEYS, ['name', 'features', 'join_on', 'step']);
    if (!m) return undefined;
    const before = r.issues.length;
    const name = r.string(m, 'name', "a detector name (letters, digits, '_', '.', ':', '-'; at most 128 characters)", (s) => NAME.test(s));
    if (name !== undefined) {
      const prev = seen.get(name);
      if (prev) r.error(m.at('name'), m.get('name'), `multivariate detector '${name}' is already defined at ${prev}`);
      else seen.set(name, path);
    }
    const joinOn = r.stringList(m, 'join_on', 'a label name', (s) => LABEL.test(s));
    if (joinOn && joinOn.length === 0) r.error(m.at('join_on'), m.get('join_on'), 'join on at least one label (the entity, e.g. service)');
    const features = readFeatures(r, m, p, joinOn ?? []);
    const stepMs = r.duration(m, 'step', { positive: true, max: 86_400_000, maxText: '1d' });
    const threshold = m.has('threshold') ? r.number(m, 'threshold', { min: 0, max: 1, minExclusive: true }) : MULTIVARIATE_DEFAULTS.threshold;
    const owner = m.has('owner') ? r.string(m, 'owner', "an owner: a team or person id (letters, digits, '.', '_', '-', '@'; at most 64 characters)", (x) => OWNER.test(x)) : undefined;
    const severity = m.has('severity') ? r.oneOf(m, 'severity', SEVERITIES) : MULTIVARIATE_DEFAULTS.severity;
    const cascade = readCascade(r, m);
    const forest = readForest(r, m);
    if (r.issues.length !== before || !name || !features || !joinOn || stepMs === undefined || threshold === undefined || !severity || !cascade || !forest) return undefined;
    return { name, features, joinOn, stepMs, threshold, owner, severity, cascade, forest };
  });
  return out;
}

function readFeatures(r: Reader, m: Fields, p: SelectorParser, joinOn: readonly string[]): MultivariateFeature[] | undefined {
  const names = new Map<string, string>();
  const list = r.list(m, 'features', (node, path, i) => {
    let f: Fields | undefined;
    let explicit: string | undefined;
    if (isMap(node)) {
      f = r.mapping(node, path, FEATURE_KEYS, ['name', 'selector']);
      if (!f) return undefined;
      explicit = r.string(f, 'name', "a feature name (a letter or '_', then letters, digits, '_', '.', ':', '-')", (s) => FEATURE_NAME.test(s));
      if (explicit === undefined) return undefined;
    } else {
      // A bare selector: read as `{selector: ...}` at this item's path.
      f = new Fields(path, new YAMLMap());
      f.set('selector', node as Node, (node as Node | null | undefined) ?? null);
    }
    const s = p.selector(f, 'selector');
    if (!s) return undefined;
    const name = explicit ?? s.sel.metric;
    const at = explicit ? f.at('name') : path;
    const prev = names.get(name);
    if (prev) {
      r.error(at, node, `feature '${name}' is already defined at ${prev}; give one of them a distinct name with {name, selector}`);
      return undefined;
    }
    names.set(name, childPath(m.at('features'), i));
    if (s.labelsOf) {
      const missing = joinOn.filter((l) => !s.labelsOf!.includes(l));
      if (missing.length > 0) {
        r.error(explicit ? f.at('selector') : path, node, `metric '${s.sel.metric}' has no label ${missing.map((l) => `'${l}'`).join(', ')} to join on; its labels: ${s.labelsOf.join(', ') || '(none)'}`);
        return undefined;
      }
    }
    return { name, selector: s.sel };
  });
  if (!list) return undefined;
  if (list.length < 2 || list.length > MAX_FEATURES) {
    r.error(m.at('features'), m.get('features'), `a multivariate detector needs 2 to ${MAX_FEATURES} features, got ${list.length}`);
    return undefined;
  }
  return list;
}

function readCascade(r: Reader, m: Fields): MultivariateCascade | undefined {
  const d = MULTIVARIATE_DEFAULTS.cascade;
  if (!m.has('cascade')) return d;
  const c = r.mappingAt(m, 'cascade', CASCADE_KEYS);
  if (!c) return undefined;
  const level = c.has('level') ? r.number(c, 'level', { min: 0, max: 1 }) : d.level;
  const every = c.has('every') ? r.number(c, 'every', { integer: true, min: 1, max: 10_000 }) : d.every;
  return level === undefined || every === undefined ? undefined : { level, every };
}

function readForest(r: Reader, m: Fields): MultivariateForest | undefined {
  const d = MULTIVARIATE_DEFAULTS.forest;
  if (!m.has('forest')) return d;
  const f = r.mappingAt(m, 'forest', FOREST_KEYS);
  if (!f) return undefined;
  const int = (key: string, def: number, min: number, max: number) => (f.has(key) ? r.number(f, key, { integer: true, min, max }) : def);
  const trees = int('trees', d.trees, 1, 1000);
  const sampleSize = int('sample_size', d.sampleSize, 16, 4096);
  const reservoir = int('reservoir', d.reservoir, 16, 100_000);
  const minFit = int('min_fit', d.minFit, 8, 100_000);
  const refitEvery = int('refit_every', d.refitEvery, 1, 1_000_000);
  if (trees === undefined || sampleSize === undefined || reservoir === undefined || minFit === undefined || refitEvery === undefined) return undefined;
  if (minFit > reservoir) {
    r.error(f.at('min_fit'), f.get('min_fit') ?? f.node, `must be at most reservoir (${reservoir}), got ${minFit}`);
    return undefined;
  }
  return { trees, sampleSize, reservoir, minFit, refitEvery };
}

/** The rule name (and metric) under which a multivariate detector's alerts and anomalies appear. */
export function multivariateRuleName(detector: string): string {
  return `multivariate:${detector}`;
}

const rules = new WeakMap<MultivariateDetector, Rule>();

/**
 * The alert rule a multivariate detector's alerts run under: its entities' alerts go through
 * the same lifecycle, grouping, silences, budgets and routing as a rule's, with the detector's
 * threshold, severity and owner and the default timing. Routing is the tree's (labels `rule`,
 * `metric` = `multivariate:<name>`, `owner`, and the join labels). One object per detector.
 */
export function multivariateRule(d: MultivariateDetector): Rule {
  let r = rules.get(d);
  if (r === undefined) {
    r = Object.freeze({
      name: multivariateRuleName(d.name),
      selector: d.features[0].selector, // never used to select series: the features do that
      aggregation: Object.freeze({ fn: 'avg' as const, windowMs: d.stepMs, q: undefined }),
      detectors: undefined,
      sensitivity: Object.freeze({ level: 'custom' as const, threshold: d.threshold }),
      severity: d.severity,
      impact: undefined,
      owner: d.owner ?? '',
      receiver: undefined,
      runbook: undefined,
      mitigationHook: undefined,
      groupBy: d.joinOn,
      labels: Object.freeze({}),
      maintenance: Object.freeze([]) as Rule['maintenance'],
      timing: Object.freeze({ ...DEFAULTS.rule.timing, flap: MULTIVARIATE_DEFAULTS.flap }),
    });
    rules.set(d, r);
  }
  return r;
}
