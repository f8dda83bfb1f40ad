import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { detectorNames } from '../detect/index.ts';
import { TidemarkError } from '../errors.ts';
import { DEFAULTS } from './defaults.ts';
import { formatConfigIssue, loadConfig, loadConfigOrThrow, MAX_CONFIG_BYTES, type ConfigIssue } from './index.ts';

/** A small valid config; fixtures append to it, so its 25 lines keep their numbers. */
const BASE = `tenant: acme
metrics:
  - name: http_requests_total
    type: counter
    unit: requests
    labels: [service, code]
  - name: latency_seconds
    type: histogram
    unit: seconds
    labels: [service]
  - name: queue_depth
    type: gauge
    unit: messages
    labels: [queue]
receivers:
  - name: team-slack
    slack:
      webhook_url: https://hooks.slack.com/services/T/B/X
rules:
  - name: errors
    selector: 'http_requests_total{code=~"5.."}'
    aggregation: { function: rate, window: 5m }
    severity: S1
    owner: team-a
    receiver: team-slack
`;

/** A second rule starting on line 26: name, owner, receiver, then `extra` from line 29. */
const RULE = (extra: string) => `  - name: r2
    owner: team-a
    receiver: team-slack
${extra}`;

/** Messages as the CLI prints them, with the code shown when it is not the common TM_ERR_CONFIG. */
function messages(errors: readonly ConfigIssue[]): string[] {
  return errors.map((e) => (e.code === 'TM_ERR_CONFIG' ? '' : `[${e.code}] `) + formatConfigIssue(e));
}

test('the base fixture is valid', () => {
  const r = loadConfig(BASE, 'base');
  assert.deepEqual(messages(r.errors), []);
  assert.equal(BASE.split('\n').length - 1, 25);
});

test('examples/tidemark.yaml validates and shows every feature', () => {
  const text = readFileSync(new URL('../../examples/tidemark.yaml', import.meta.url), 'utf8');
  const { config, errors } = loadConfig(text, 'examples/tidemark.yaml');
  assert.deepEqual(messages(errors), []);
  assert.ok(config);
  assert.equal(config.tenant, 'payments');
  assert.deepEqual(config.metrics.map((m) => m.type).sort(), ['counter', 'counter', 'gauge', 'gauge', 'histogram']);
  assert.deepEqual([...new Set(config.rules.map((r) => r.severity))].sort(), ['S0', 'S1', 'S2', 'S3']);
  assert.deepEqual([...new Set(config.rules.map((r) => r.aggregation.fn))].sort(), ['avg', 'max', 'min', 'quantile', 'rate', 'sum']);
  assert.deepEqual([...new Set(config.rules.map((r) => r.impact?.kind ?? 'none'))].sort(), ['limit', 'none', 'slo']);
  assert.deepEqual([...new Set(config.rules.map((r) => r.sensitivity.level))].sort(), ['custom', 'high', 'low', 'medium']);
  assert.deepEqual([...new Set(config.rules.flatMap((r) => r.maintenance.map((w) => w.kind)))].sort(), ['once', 'recurring']);
  const kinds = config.receivers.flatMap((r) => (['webhook', 'slack', 'pagerduty', 'alertmanager'] as const).filter((k) => r[k]));
  assert.deepEqual([...new Set(kinds)].sort(), ['alertmanager', 'pagerduty', 'slack', 'webhook']);
  assert.ok(config.route && config.route.routes.some((r) => r.continue) && config.route.routes.some((r) => r.routes.length > 0));
  assert.ok(config.rules.some((r) => r.detectors === undefined) && config.rules.some((r) => r.detectors?.some((d) => d.config !== undefined)));
});

test('values are converted and defaults applied once', () => {
  const text = readFileSync(new URL('../../examples/tidemark.yaml', import.meta.url), 'utf8');
  const config = loadConfigOrThrow(text, 'example');
  const byName = new Map(config.rules.map((r) => [r.name, r]));
  const errors = byName.get('checkout-error-rate')!;
  assert.equal(errors.aggregation.windowMs, 300_000);
  assert.equal(errors.sensitivity.threshold, DEFAULTS.rule.thresholds.high);
  assert.deepEqual(errors.timing, { forMs: 120_000, keepFiringForMs: 600_000, groupWaitMs: 30_000, groupIntervalMs: 300_000, repeatIntervalMs: 14_400_000, flap: { triggerM: 3, triggerN: 5, recoveryPoints: 3 } });
  assert.equal(errors.selector.text, 'http_requests_total{service="checkout",code=~"5..",route!="/health"}');
  assert.ok(errors.impact?.kind === 'slo');
  assert.deepEqual(errors.impact.windows, [
    { longMs: 3_600_000, shortMs: 300_000, burnRate: 14.4 },
    { longMs: 21_600_000, shortMs: 1_800_000, burnRate: 6 },
  ]);
  const drift = byName.get('checkout-latency-median-drift')!;
  assert.deepEqual(drift.timing, DEFAULTS.rule.timing);
  assert.deepEqual(drift.sensitivity, { level: 'low', threshold: 0.97 });
  assert.deepEqual(byName.get('checkout-latency-p99')!.sensitivity, { level: 'custom', threshold: 0.85 });
  assert.equal(byName.get('checkout-latency-p99')!.aggregation.q, 0.99);
  const backlog = byName.get('payment-queue-backlog')!;
  assert.deepEqual(backlog.maintenance, [
    { kind: 'once', startMs: Date.UTC(2025, 6, 1, 2), endMs: Date.UTC(2025, 6, 1, 4), comment: 'settlement cluster migration', excludeFromLearning: true },
    { kind: 'recurring', weekdays: ['sat', 'sun'], startMinute: 180, durationMs: 7_200_000, timeZone: 'Europe/Berlin', comment: '', excludeFromLearning: false },
  ]);
  assert.deepEqual(backlog.impact, { kind: 'limit', selector: { metric: 'checkout_success_ratio', matchers: [{ label: 'region', op: '=', value: 'eu-west-1' }], text: 'checkout_success_ratio{region="eu-west-1"}' }, op: 'below', value: 0.98 });
  const metrics = new Map(config.metrics.map((m) => [m.name, m]));
  assert.deepEqual([metrics.get('http_requests_total')!.min, metrics.get('http_requests_total')!.max], [0, Infinity]);
  assert.equal(metrics.get('http_requests_total')!.maxLabelValues, 5000, 'inherits limits.label_values_per_metric');
  assert.equal(metrics.get('payment_queue_depth')!.maxLabelValues, 200);
  assert.equal(config.limits.outOfOrderToleranceMs, 120_000);
  // Child routes inherit the parent's receiver.
  assert.equal(config.route!.routes[1].routes[0].receiver, 'payments-pager');
  assert.equal(config.route!.routes[2].receiver, 'platform-webhook');
});

test('routing-tree rules, derived histogram series and flow style are valid', () => {
  const yaml = BASE.replace('    receiver: team-slack\n', '    labels: { team: web }\n') + `  - name: p99
    selector: 'latency_seconds_p99{service="api"}'
    aggregation: { function: max, window: 1m }
    severity: S2
    owner: team-a
    runbook: https://runbooks.example.com/p99
    impact: { limit: { selector: 'latency_seconds_count{service="api"}', above: 10 } }
  - { name: sums, selector: latency_seconds_sum, aggregation: { function: rate, window: 1m }, severity: S0, owner: team-a }
route:
  receiver: team-slack
  routes:
    - { match: { team: web }, match_re: { severity: 'S[12]' }, continue: true }
`;
  const config = loadConfigOrThrow(yaml, 'x');
  assert.equal(config.rules[0].receiver, undefined);
  assert.deepEqual(config.rules[0].labels, { team: 'web' });
  assert.equal(config.rules[1].selector.metric, 'latency_seconds_p99');
  assert.equal(config.rules[2].aggregation.fn, 'rate');
  assert.deepEqual(config.route!.routes[0], { receiver: 'team-slack', match: { team: 'web' }, matchRe: { severity: 'S[12]' }, continue: true, routes: [] });
});

test('tenant-level defaults when sections are absent', () => {
  const config = loadConfigOrThrow('tenant: solo\n', 'solo');
  assert.deepEqual(config, { version: 1, tenant: 'solo', metrics: [], rules: [], receivers: [], route: undefined, limits: DEFAULTS.limits, alerting: undefined });
});

test('the loaded config is deeply frozen', () => {
  const config = loadConfigOrThrow(BASE, 'base');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.rules) && Object.isFrozen(config.rules[0].selector.matchers[0]));
  assert.throws(() => {
    (config.rules[0].timing as { forMs: number }).forMs = 1;
  }, TypeError);
  assert.throws(() => {
    (config.metrics as unknown[]).push({});
  }, TypeError);
});

const INVALID: Array<{ name: string; yaml: string; expected: string[] }> = [
  {
    name: "tabs",
    yaml: 'tenant: acme\nlimits:\n\tactive_series: 3\n',
    expected: [
      "[TM_ERR_INPUT] (root) (line 3): tabs are not allowed for indentation in YAML; use spaces",
    ],
  },
  {
    name: "syntax",
    yaml: 'tenant: acme\nmetrics: [\n',
    expected: [
      "[TM_ERR_INPUT] (root) (line 3): YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ],
  },
  {
    name: "multi doc",
    yaml: 'tenant: acme\n---\ntenant: b\n',
    expected: [
      "[TM_ERR_INPUT] (root) (line 2): the file holds more than one YAML document (a second ---); one file configures one tenant",
    ],
  },
  {
    name: "dup key",
    yaml: BASE + '    severity: S2\n',
    expected: [
      "rules[0].severity (line 26): key 'severity' appears twice in this mapping (first on line 23); keep one",
    ],
  },
  {
    name: "empty",
    yaml: '# nothing\n',
    expected: [
      "(root): the file is empty; a tenant config needs at least 'tenant:'",
    ],
  },
  {
    name: "root list",
    yaml: '- a\n',
    expected: [
      "(root) (line 1): expected a mapping with keys version, tenant, metrics, rules, receivers, route, limits, alerting, multivariate, feedback, got a list [\"a\"]",
    ],
  },
  {
    name: "unknown top",
    yaml: BASE + 'recievers: []\n',
    expected: [
      "recievers (line 26): unknown key 'recievers' (did you mean 'receivers'?); valid keys: version, tenant, metrics, rules, receivers, route, limits, alerting, multivariate, feedback",
    ],
  },
  {
    name: "missing tenant",
    yaml: 'metrics: []\n',
    expected: [
      "tenant (line 1): required key 'tenant' is missing",
    ],
  },
  {
    name: "bad tenant",
    yaml: 'tenant: Acme Corp\n',
    expected: [
      "tenant (line 1): expected a tenant id: lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters, got \"Acme Corp\"",
    ],
  },
  {
    name: "version",
    yaml: BASE + 'version: 2\n',
    expected: [
      "version (line 26): expected 1 (the only config version), got 2",
    ],
  },
  {
    name: "alias",
    yaml: BASE + 'limits: *nope\n',
    expected: [
      "limits (line 26): unknown alias '*nope': no anchor '&nope' before it",
    ],
  },
  {
    name: "tag",
    yaml: BASE + 'limits: !custom {}\n',
    expected: [
      "[TM_ERR_INPUT] (root) (line 26): YAML tags (!name) are not supported here; remove the tag",
    ],
  },
  {
    name: "type typo",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gague\n    unit: x\n    labels: []\n',
    expected: [
      "metrics[0].type (line 4): expected one of counter, gauge, histogram, got \"gague\" (did you mean 'gauge'?)",
    ],
  },
  {
    name: "counter negative",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: counter\n    unit: x\n    labels: []\n    range: [-1, 10]\n',
    expected: [
      "metrics[0].range (line 7): a counter never goes below 0, got a minimum of -1; use 0 or more",
    ],
  },
  {
    name: "range order",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gauge\n    unit: x\n    labels: []\n    range: [5, 5]\n',
    expected: [
      "metrics[0].range (line 7): expected min below max, got [5, 5]",
    ],
  },
  {
    name: "range shape",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gauge\n    unit: x\n    labels: []\n    range: [0, high]\n',
    expected: [
      "metrics[0].range (line 7): expected a range [min, max] of two numbers (.inf and -.inf for open ends), got a list [0, \"high\"]",
    ],
  },
  {
    name: "deny overlap",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gauge\n    unit: x\n    labels: [a, b]\n    deny_labels: [c, b]\n',
    expected: [
      "metrics[0].deny_labels[1] (line 7): 'b' is both allowed (labels) and denied (deny_labels); keep it in one list",
    ],
  },
  {
    name: "dup metric",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gauge\n    unit: x\n    labels: []\n  - name: m\n    type: gauge\n    unit: x\n    labels: []\n',
    expected: [
      "metrics[1].name (line 7): metric 'm' is already defined at metrics[0]",
    ],
  },
  {
    name: "label names",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n    type: gauge\n    unit: x\n    labels: [__x, bad-label, ok, ok]\n',
    expected: [
      "metrics[0].labels[0] (line 6): expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got \"__x\"",
      "metrics[0].labels[1] (line 6): expected a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __), got \"bad-label\"",
      "metrics[0].labels[3] (line 6): 'ok' is listed twice",
    ],
  },
  {
    name: "hist clash",
    yaml: 'tenant: a\nmetrics:\n  - name: h\n    type: histogram\n    unit: s\n    labels: []\n  - name: h_count\n    type: counter\n    unit: x\n    labels: []\n',
    expected: [
      "metrics[1].name (line 7): 'h_count' is also the count series ingest derives from histogram 'h'; rename one of them",
    ],
  },
  {
    name: "missing keys",
    yaml: 'tenant: a\nmetrics:\n  - name: m\n',
    expected: [
      "metrics[0].type (line 3): required key 'type' is missing",
      "metrics[0].unit (line 3): required key 'unit' is missing",
      "metrics[0].labels (line 3): required key 'labels' is missing",
    ],
  },
  {
    name: "selector syntax",
    yaml: BASE + RULE('    selector: \'http_requests_total{code=}\'\n    aggregation: { function: rate, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].selector (line 29): invalid selector \"http_requests_total{code=}\": expected a quoted label value, found '}' at column 26",
    ],
  },
  {
    name: "selector undeclared",
    yaml: BASE + RULE('    selector: http_request_total\n    aggregation: { function: rate, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].selector (line 29): metric 'http_request_total' is not declared under metrics (did you mean 'http_requests_total'?); declared: http_requests_total, latency_seconds, queue_depth",
    ],
  },
  {
    name: "selector label",
    yaml: BASE + RULE('    selector: \'http_requests_total{status="500"}\'\n    aggregation: { function: rate, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].selector (line 29): label 'status' is not an allowed label of metric 'http_requests_total'; allowed: service, code",
    ],
  },
  {
    name: "selector regex",
    yaml: BASE + RULE('    selector: \'http_requests_total{code=~"5(.."}\'\n    aggregation: { function: rate, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].selector (line 29): invalid selector \"http_requests_total{code=~\\\"5(..\\\"}\": invalid regular expression for label 'code': Unterminated group",
    ],
  },
  {
    name: "rate gauge",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: rate, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.function (line 30): rate needs a counter, and 'queue_depth' is a gauge; use avg, min, max, sum or quantile",
    ],
  },
  {
    name: "hist avg",
    yaml: BASE + RULE('    selector: latency_seconds\n    aggregation: { function: avg, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.function (line 30): 'latency_seconds' is a histogram, which only supports quantile; select latency_seconds_count or latency_seconds_sum for avg, or latency_seconds_p99 for one quantile series",
    ],
  },
  {
    name: "quantile no q",
    yaml: BASE + RULE('    selector: latency_seconds\n    aggregation: { function: quantile, window: 5m }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.q (line 30): function quantile needs q, the quantile between 0 and 1 (0.99 for p99)",
    ],
  },
  {
    name: "q on rate",
    yaml: BASE + RULE('    selector: http_requests_total\n    aggregation: { function: rate, window: 5m, q: 0.5 }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.q (line 30): q only applies to function quantile, not rate",
    ],
  },
  {
    name: "window ten",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: ten }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.window (line 30): expected a positive duration like 30s, 5m or 1h30m, got \"ten\"",
    ],
  },
  {
    name: "window unitless",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 300 }\n    severity: S1\n'),
    expected: [
      "rules[1].aggregation.window (line 30): expected a positive duration like 30s, 5m or 1h30m, got 300 (a duration needs a unit: ms, s, m, h, d or w)",
    ],
  },
  {
    name: "empty detectors",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    detectors: []\n'),
    expected: [
      "rules[1].detectors (line 32): an empty list would detect nothing; remove detectors to use the default profile, or list at least one",
    ],
  },
  {
    name: "sensitivity",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    sensitivity: hihg\n'),
    expected: [
      "rules[1].sensitivity (line 32): expected low, medium, high, or a score threshold between 0 and 1 (exclusive), got \"hihg\" (did you mean 'high'?)",
    ],
  },
  {
    name: "severity typo",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: s2\n'),
    expected: [
      "rules[1].severity (line 31): expected one of S0, S1, S2, S3, got \"s2\" (did you mean 'S2'?)",
    ],
  },
  {
    name: "S2 no impact",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S2\n'),
    expected: [
      "rules[1].impact (line 26): severity S2 pages, and a page needs impact: add impact.limit or impact.slo, or use S1 to notify without paging",
      "rules[1].runbook (line 26): severity S2 pages, and a page needs a runbook URL",
    ],
  },
  {
    name: "S3 no hook",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S3\n    runbook: https://r.example.com/x\n    impact: { limit: { selector: queue_depth, above: 100 } }\n'),
    expected: [
      "rules[1].mitigation_hook (line 26): severity S3 runs auto-mitigation: add mitigation_hook (the URL to call), or use S2",
    ],
  },
  {
    name: "S1 hook",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    mitigation_hook: https://h.example.com/x\n'),
    expected: [
      "rules[1].mitigation_hook (line 32): mitigation_hook only runs for severity S3, and this rule is S1",
    ],
  },
  {
    name: "S0 receiver",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S0\n'),
    expected: [
      "rules[1].receiver (line 28): severity S0 is log-only and never notifies: remove receiver, or use S1 or higher",
    ],
  },
  {
    name: "no receiver no route",
    yaml: BASE + '  - name: r2\n    owner: team-a\n    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n',
    expected: [
      "rules[1].receiver (line 26): severity S1 notifies, but this rule has no receiver and there is no route: set receiver, or add a route with a default receiver",
    ],
  },
  {
    name: "receiver undefined",
    yaml: BASE + '  - name: r2\n    owner: team-a\n    receiver: team-slak\n    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n',
    expected: [
      "rules[1].receiver (line 28): receiver 'team-slak' is not defined (did you mean 'team-slack'?); defined receivers: team-slack",
    ],
  },
  {
    name: "runbook",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    runbook: ftp://x/y\n'),
    expected: [
      "rules[1].runbook (line 32): expected an http:// or https:// URL, got \"ftp://x/y\"",
    ],
  },
  {
    name: "group_by",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    group_by: [queue, qeue]\n'),
    expected: [
      "rules[1].group_by[1] (line 32): 'qeue' is not an allowed label of metric 'queue_depth' (did you mean 'queue'?); allowed: queue",
    ],
  },
  {
    name: "static label",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    labels: { severity: high, team: 7 }\n'),
    expected: [
      "rules[1].labels.severity (line 32): 'severity' is set by Tidemark on every alert; choose another label name",
      "rules[1].labels.team (line 32): expected a string value (quote numbers and booleans), got 7",
    ],
  },
  {
    name: "impact both",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      limit: { selector: queue_depth, above: 1 }\n      slo: { objective: 99 }\n'),
    expected: [
      "rules[1].impact (line 33): expected exactly one of limit (a hard limit on an impact metric) or slo (an error-budget burn rate), got both",
    ],
  },
  {
    name: "limit both",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      limit: { selector: queue_depth, above: 1, below: 0 }\n'),
    expected: [
      "rules[1].impact.limit (line 33): expected exactly one of above or below, got both",
    ],
  },
  {
    name: "slo objective",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      slo: { objective: 100, errors: \'http_requests_total{code="500"}\', total: http_requests_total }\n'),
    expected: [
      "rules[1].impact.slo.objective (line 33): expected a percentage above 0 and below 100, like 99.9, got 100",
    ],
  },
  {
    name: "slo low objective",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      slo: { objective: 90, errors: \'http_requests_total{code="500"}\', total: http_requests_total }\n'),
    expected: [
      "rules[1].impact.slo.objective (line 33): objective 90 is too low for the default burn rate 14.4x (it would need an error ratio of 144%); set windows with lower burn rates",
    ],
  },
  {
    name: "slo windows",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      slo:\n        objective: 99\n        errors: http_requests_total\n        total: http_requests_total\n        windows:\n          - { long: 5m, short: 1h, burn_rate: 200 }\n'),
    expected: [
      "rules[1].impact.slo.errors (line 35): errors and total are the same selector, so the error ratio would always be 1; narrow errors with a matcher like code=~\"5..\"",
      "rules[1].impact.slo.windows[0].short (line 38): the short window confirms the long one and must be shorter: 1h is not shorter than 5m",
      "rules[1].impact.slo.windows[0].burn_rate (line 38): burn rate 200 with objective 99 needs an error ratio of 200%, which can never happen; lower burn_rate or raise the objective",
    ],
  },
  {
    name: "slo gauge",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    impact:\n      slo: { objective: 99, errors: queue_depth, total: latency_seconds_count }\n'),
    expected: [
      "rules[1].impact.slo.errors (line 33): a burn rate is a ratio of counter rates, and 'queue_depth' is a gauge; select a counter (for a histogram, its _count)",
    ],
  },
  {
    name: "maint mixed",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    maintenance:\n      - { start: 2025-01-01T00:00:00Z, weekdays: [mon] }\n      - { comment: x }\n'),
    expected: [
      "rules[1].maintenance[0] (line 33): a window is either one-off (start, end) or recurring (weekdays, at, duration, time_zone), not both",
      "rules[1].maintenance[1] (line 34): a window needs start and end (one-off), or weekdays, at and duration (recurring)",
    ],
  },
  {
    name: "maint once",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    maintenance:\n      - start: 2025-01-01T00:00:00\n        end: 2025-02-30T00:00:00Z\n      - start: 2025-01-02T00:00:00Z\n        end: 2025-01-01T00:00:00Z\n      - start: 2025-01-02T00:00:00Z\n'),
    expected: [
      "rules[1].maintenance[0].start (line 33): expected an RFC 3339 time with an offset, like 2025-07-01T02:00:00Z or 2025-07-01T04:00:00+02:00, got \"2025-01-01T00:00:00\"",
      "rules[1].maintenance[0].end (line 34): expected an RFC 3339 time with an offset, like 2025-07-01T02:00:00Z or 2025-07-01T04:00:00+02:00, got \"2025-02-30T00:00:00Z\"",
      "rules[1].maintenance[1].end (line 36): end must be after start (2025-01-02T00:00:00Z)",
      "rules[1].maintenance[2].end (line 37): required key 'end' is missing",
    ],
  },
  {
    name: "maint recurring",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    maintenance:\n      - weekdays: [mon, fryday]\n        at: "25:00"\n        duration: 8d\n        time_zone: Europe/Berln\n      - weekdays: [sat]\n        at: 0300\n        duration: 1h\n'),
    expected: [
      "rules[1].maintenance[0].weekdays[1] (line 33): expected a weekday: mon, tue, wed, thu, fri, sat or sun, got \"fryday\"",
      "rules[1].maintenance[0].at (line 34): expected a time of day HH:MM on a 24-hour clock, like 02:30 (quote it), got \"25:00\"",
      "rules[1].maintenance[0].duration (line 35): expected a positive duration of at most 1w, got \"8d\"",
      "rules[1].maintenance[0].time_zone (line 36): unknown time zone 'Europe/Berln' (did you mean 'Europe/Berlin'?); use an IANA name like Europe/Berlin or UTC",
      "rules[1].maintenance[1].at (line 38): expected a time of day HH:MM on a 24-hour clock, like 02:30 (quote it), got 300",
    ],
  },
  {
    name: "maint exclude_from_learning",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    maintenance:\n      - weekdays: [sat]\n        at: "03:00"\n        duration: 1h\n        exclude_from_learning: yes\n      - { start: 2025-01-01T00:00:00Z, end: 2025-01-02T00:00:00Z, exclude_from_learnin: true }\n'),
    expected: [
      "rules[1].maintenance[0].exclude_from_learning (line 36): expected true or false, got \"yes\"",
      "rules[1].maintenance[1].exclude_from_learnin (line 37): unknown key 'exclude_from_learnin' (did you mean 'exclude_from_learning'?); valid keys: start, end, weekdays, at, duration, time_zone, comment, exclude_from_learning",
    ],
  },
  {
    name: "timing",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    timing:\n      for: -1m\n      group_interval: 1h\n      repeat_interval: 30m\n'),
    expected: [
      "rules[1].timing.for (line 33): expected a duration like 30s, 5m or 1h30m, got \"-1m\"",
    ],
  },
  {
    name: "timing2",
    yaml: BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    timing:\n      group_interval: 1h\n      repeat_interval: 30m\n      grup_wait: 1m\n'),
    expected: [
      "rules[1].timing.repeat_interval (line 34): repeat_interval (30m) must be at least group_interval (1h)",
      "rules[1].timing.grup_wait (line 35): unknown key 'grup_wait' (did you mean 'group_wait'?); valid keys: for, keep_firing_for, group_wait, group_interval, repeat_interval, trigger, recovery",
    ],
  },
  {
    name: "receivers",
    yaml: 'tenant: a\nreceivers:\n  - name: r1\n  - name: r2\n    slack: { webhook_url: http://hooks.slack.com/x }\n    pagerduty: { routing_key: abc }\n  - name: r2\n    webhook: { url: not a url }\n',
    expected: [
      "receivers[0] (line 3): a receiver needs at least one of webhook, slack, pagerduty or alertmanager",
      "receivers[1].slack.webhook_url (line 5): expected an https:// URL, got \"http://hooks.slack.com/x\"",
      "receivers[1].pagerduty.routing_key (line 6): expected a 32-character PagerDuty Events API v2 integration key, got \"abc\"",
      "receivers[2].name (line 7): receiver 'r2' is already defined at receivers[1]",
      "receivers[2].webhook.url (line 8): expected an http:// or https:// URL, got \"not a url\"",
    ],
  },
  {
    name: "route",
    yaml: BASE + 'route:\n  receiver: team-slack\n  match: { a: b }\n  routes:\n    - match: { sevrity: S1 }\n    - match: { severity: P1 }\n      receiver: pager\n    - match_re: { owner: "team-(" }\n      continue: yes\n',
    expected: [
      "route.match (line 28): the root route matches every alert and cannot have match; put it on a child route under routes",
      "route.routes[0].match.sevrity (line 30): no alert carries label 'sevrity' (did you mean 'severity'?): alerts carry tenant, rule, metric, severity, owner, plus each rule's group_by and labels",
      "route.routes[1].match.severity (line 31): severity is one of S0, S1, S2, S3, so \"P1\" never matches",
      "route.routes[1].receiver (line 32): receiver 'pager' is not defined; defined receivers: team-slack",
      "route.routes[2].match_re.owner (line 33): invalid regular expression \"team-(\": Unterminated group",
      "route.routes[2].continue (line 34): expected true or false, got \"yes\"",
    ],
  },
  {
    name: "limits",
    yaml: BASE + 'limits:\n  active_series: ten\n  max_future_skew: 2d\n  labels_per_series: 0\n',
    expected: [
      "limits.active_series (line 27): expected a positive integer, got \"ten\"",
      "limits.max_future_skew (line 28): expected a duration of at most 1d, got \"2d\"",
      "limits.labels_per_series (line 29): expected a positive integer, got 0",
    ],
  },
  {
    name: "empty item",
    yaml: BASE + '  -\n',
    expected: [
      "rules[1] (line 26): empty list item; remove the lone dash or fill it in",
    ],
  },
  {
    name: "not list",
    yaml: BASE.replace('receivers:\n  - name: team-slack\n    slack:\n      webhook_url: https://hooks.slack.com/services/T/B/X\n', 'receivers: team-slack\n'),
    expected: [
      "receivers (line 15): expected a list, got \"team-slack\"",
    ],
  },  {
    name: "merge key",
    yaml: BASE + '    <<: { severity: S2 }\n',
    expected: [
      "rules[0].<< (line 26): YAML merge keys (<<) are not supported; repeat the keys, or alias a whole value with *name",
    ],
  },
  {
    name: "one broken metric does not hide rule checks on the others",
    yaml: BASE.replace('    type: histogram', '    type: histo') + RULE('    selector: \'queue_depth{queu="a"}\'\n    aggregation: { function: max, window: 5m }\n    severity: S1\n'),
    expected: [
      "metrics[1].type (line 8): expected one of counter, gauge, histogram, got \"histo\"",
      "rules[1].selector (line 29): label 'queu' is not an allowed label of metric 'queue_depth' (did you mean 'queue'?); allowed: queue",
    ],
  },
];

for (const c of INVALID) {
  test(`invalid: ${c.name}`, () => {
    const r = loadConfig(c.yaml, c.name);
    assert.equal(r.config, undefined);
    assert.deepEqual(messages(r.errors), c.expected);
  });
}

test('an unknown detector lists the registry and suggests the close name', () => {
  const r = loadConfig(BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    detectors:\n      - name: robust-z\n'), 'x');
  assert.deepEqual(messages(r.errors), [
    `[TM_ERR_UNKNOWN_DETECTOR] rules[1].detectors[0].name (line 33): unknown detector 'robust-z' (did you mean 'robust_z'?); valid detectors: ${detectorNames().join(', ')}`,
  ]);
});

test("a detector's own config errors keep their path and get the line of the bad key", () => {
  // The messages are the detector registry's (src/detect/config.ts); the loader adds path and line.
  const yaml = BASE + RULE(`    selector: queue_depth
    aggregation: { function: max, window: 5m }
    severity: S1
    detectors:
      - name: robust_z
        config:
          window: ten
      - name: threshold
        config: { abov: 3 }
`);
  assert.deepEqual(messages(loadConfig(yaml, 'x').errors), [
    'rules[1].detectors[0].config.window (line 35): expected a number, got "ten"',
    "rules[1].detectors[1].config.abov (line 37): unknown option 'abov'; valid options: above, below",
  ]);
});

test('every error of a file is reported in one run, ordered by line', () => {
  const yaml = BASE.replace('severity: S1', 'severity: S9').replace('window: 5m', 'window: 5 minutes') + 'limits:\n  active_series: ten\n';
  const r = loadConfig(yaml, 'x');
  assert.deepEqual(messages(r.errors), [
    'rules[0].aggregation.window (line 22): expected a positive duration like 30s, 5m or 1h30m, got "5 minutes"',
    'rules[0].severity (line 23): expected one of S0, S1, S2, S3, got "S9"',
    'limits.active_series (line 27): expected a positive integer, got "ten"',
  ]);
});

test('anchors and aliases work, and alias bombs are cut off', () => {
  const shared = BASE.replace('    severity: S1\n', '    severity: S1\n    timing: &slow { for: 10m, repeat_interval: 12h }\n')
    + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    timing: *slow\n');
  const config = loadConfigOrThrow(shared, 'x');
  assert.equal(config.rules[1].timing.forMs, 600_000);
  assert.equal(config.rules[1].timing.repeatIntervalMs, 43_200_000);
  // Ten levels of ten aliases each would expand to 10^10 nodes.
  let bomb = 'tenant: a\nx0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n';
  for (let i = 1; i <= 10; i++) bomb += `x${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  bomb += 'rules:\n  - name: r\n    selector: m\n    aggregation: { function: max, window: 5m }\n    severity: S0\n    owner: o\n    detectors: [{ name: robust_z, config: { deep: *a10 } }]\n';
  const started = Date.now();
  const r = loadConfig(bomb, 'bomb');
  assert.ok(Date.now() - started < 2_000, 'bounded work');
  assert.ok(r.errors.some((e) => /alias expansions|nested too deeply or too large/.test(e.message)), messages(r.errors).join('\n'));
});

test('a __proto__ key in free-form detector config stays data', () => {
  const yaml = BASE + RULE('    selector: queue_depth\n    aggregation: { function: max, window: 5m }\n    severity: S1\n    detectors:\n      - name: robust_z\n        config: { __proto__: { polluted: true } }\n');
  loadConfig(yaml, 'x');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('oversized files are refused before parsing', () => {
  const r = loadConfig('#'.repeat(MAX_CONFIG_BYTES + 1), 'big');
  assert.deepEqual(messages(r.errors), [`[TM_ERR_INPUT] (root): the file is larger than ${MAX_CONFIG_BYTES} bytes; a tenant config is a few hundred lines`]);
});

test('loadConfigOrThrow lists every problem in one TidemarkError', () => {
  assert.throws(
    () => loadConfigOrThrow('tenant: Bad\nlimits: { active_series: 0 }\n', 'bad.yaml'),
    (err: unknown) => {
      assert.ok(err instanceof TidemarkError);
      assert.equal(err.code, 'TM_ERR_CONFIG');
      assert.equal(err.path, 'bad.yaml');
      assert.equal(err.message, [
        'bad.yaml: 2 problem(s) in bad.yaml:',
        `  tenant (line 1): expected a tenant id: lowercase letters, digits, '-' or '_', starting with a letter, at most 63 characters, got "Bad"`,
        '  limits.active_series (line 2): expected a positive integer, got 0',
      ].join('\n'));
      return true;
    },
  );
});
