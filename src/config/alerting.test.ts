// The `alerting:` section and the per-rule anti-flap keys: YAML -> the alert stage's policy
// overrides, defaults left to DEFAULT_ALERT_POLICY, and one fixture per invalid case with its
// exact message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_ALERT_POLICY, resolvePolicy } from '../alert/index.ts';
import { describeConfigChange, formatConfigIssue, loadConfig, loadConfigOrThrow, type ConfigIssue } from './index.ts';

/** Three receivers and a rule grouped by region; 15 lines, so an appended section starts on line 16. */
const ABASE = `tenant: acme
metrics:
  - { name: latency, type: gauge, unit: s, labels: [service, region] }
receivers:
  - { name: pager, webhook: { url: 'https://hooks.example.com/pager' } }
  - { name: lead, webhook: { url: 'https://hooks.example.com/lead' } }
  - { name: chat, webhook: { url: 'https://hooks.example.com/chat' } }
rules:
  - name: slow
    selector: latency
    aggregation: { function: avg, window: 1m }
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [region]
`;

function messages(errors: readonly ConfigIssue[]): string[] {
  return errors.map((e) => (e.code === 'TM_ERR_CONFIG' ? '' : `[${e.code}] `) + formatConfigIssue(e));
}

test('the base fixture is valid and 15 lines long', () => {
  assert.deepEqual(messages(loadConfig(ABASE, 'base').errors), []);
  assert.equal(ABASE.split('\n').length - 1, 15);
});

test('every key maps to the stage policy, in its units, and nothing else is set', () => {
  const config = loadConfigOrThrow(ABASE + `alerting:
  anti_flap:
    trigger: { m: 2, n: 3 }
    recovery: { points: 4 }
    no_data_after: 15m
  budgets:
    tenant: { pages_per_hour: 5, notifications_per_hour: 50 }
    each_receiver: { notifications_per_hour: 20 }
    receivers:
      - { name: pager, pages_per_hour: 3 }
      - { name: chat, notifications_per_hour: 7, pages_per_hour: 0 }
    summary_delay: 90s
  inhibit_rules:
    - source: '{severity="S3", rule="slow"}'
      target: '{severity=~"S1|S2", owner!="ops", region!~"test-.*"}'
      equal: [region]
    - { source: '{owner="team-a"}', target: '{owner="team-b"}' }
  escalation:
    - { receiver: pager, after: 15m, next: lead }
    - { receiver: lead, after: 1h, next: chat }
  ack_ttl: 2h
`, 'x');
  assert.deepEqual(config.alerting, {
    flap: { triggerM: 2, triggerN: 3, recoveryPoints: 4, noDataAfterMs: 900_000 },
    tenantBudget: { pagesPerHour: 5, notificationsPerHour: 50 },
    receiverBudget: { notificationsPerHour: 20 },
    receiverBudgets: { pager: { pagesPerHour: 3 }, chat: { pagesPerHour: 0, notificationsPerHour: 7 } },
    budgetSummaryDelayMs: 90_000,
    inhibitRules: [
      {
        source: [{ name: 'severity', op: '=', value: 'S3' }, { name: 'rule', op: '=', value: 'slow' }],
        target: [{ name: 'severity', op: '=~', value: 'S1|S2' }, { name: 'owner', op: '!=', value: 'ops' }, { name: 'region', op: '!~', value: 'test-.*' }],
        equal: ['region'],
      },
      { source: [{ name: 'owner', op: '=', value: 'team-a' }], target: [{ name: 'owner', op: '=', value: 'team-b' }], equal: [] },
    ],
    escalations: [{ receiver: 'pager', next: 'lead', afterMs: 900_000 }, { receiver: 'lead', next: 'chat', afterMs: 3_600_000 }],
    ackTtlMs: 7_200_000,
  });
  assert.ok(Object.isFrozen(config.alerting) && Object.isFrozen(config.alerting!.inhibitRules![0].source[0]));
  // The stage's merge fills in the rest from its defaults.
  const p = resolvePolicy(config.alerting);
  assert.deepEqual(p.receiverBudgets.pager, { pagesPerHour: 3, notificationsPerHour: DEFAULT_ALERT_POLICY.receiverBudget.notificationsPerHour });
  assert.deepEqual(p.receiverBudget, { pagesPerHour: DEFAULT_ALERT_POLICY.receiverBudget.pagesPerHour, notificationsPerHour: 20 });
  assert.equal(p.externalUrl, DEFAULT_ALERT_POLICY.externalUrl);
});

test('a partial section sets only what it names; an empty one sets nothing', () => {
  const c = loadConfigOrThrow(ABASE + 'alerting:\n  anti_flap: { recovery: { points: 3 } }\n  budgets: { tenant: { pages_per_hour: 1 } }\n', 'x');
  assert.deepEqual(c.alerting, { flap: { recoveryPoints: 3 }, tenantBudget: { pagesPerHour: 1 } });
  const p = resolvePolicy(c.alerting);
  assert.deepEqual(p.flap, { ...DEFAULT_ALERT_POLICY.flap, recoveryPoints: 3 });
  assert.equal(p.tenantBudget.notificationsPerHour, DEFAULT_ALERT_POLICY.tenantBudget.notificationsPerHour);
  assert.deepEqual(loadConfigOrThrow(ABASE + 'alerting: {}\n', 'x').alerting, {});
  assert.equal(loadConfigOrThrow(ABASE, 'x').alerting, undefined);
});

test('a rule carries its own trigger and recovery; rules without them carry none', () => {
  const c = loadConfigOrThrow(ABASE + '    timing: { for: 1m, trigger: { m: 3, n: 5 }, recovery: { points: 2 } }\n', 'x');
  assert.deepEqual(c.rules[0].timing.flap, { triggerM: 3, triggerN: 5, recoveryPoints: 2 });
  assert.equal(c.rules[0].timing.forMs, 60_000);
  assert.deepEqual(loadConfigOrThrow(ABASE + '    timing:\n      recovery: { points: 2 }\n', 'x').rules[0].timing.flap, { recoveryPoints: 2 });
  assert.equal(loadConfigOrThrow(ABASE, 'x').rules[0].timing.flap, undefined);
});

test('examples/tidemark.yaml shows every alerting key, and it loads', () => {
  const text = readFileSync(new URL('../../examples/tidemark.yaml', import.meta.url), 'utf8');
  const config = loadConfigOrThrow(text, 'examples/tidemark.yaml');
  const a = config.alerting!;
  assert.deepEqual(Object.keys(a).sort(), ['ackTtlMs', 'budgetSummaryDelayMs', 'escalations', 'flap', 'inhibitRules', 'receiverBudget', 'receiverBudgets', 'tenantBudget']);
  assert.deepEqual(Object.keys(a.flap!).sort(), ['noDataAfterMs', 'recoveryPoints', 'triggerM', 'triggerN']);
  assert.deepEqual(a.tenantBudget, DEFAULT_ALERT_POLICY.tenantBudget, 'the example shows the defaults');
  assert.deepEqual(a.receiverBudget, DEFAULT_ALERT_POLICY.receiverBudget);
  assert.equal(a.budgetSummaryDelayMs, DEFAULT_ALERT_POLICY.budgetSummaryDelayMs);
  assert.ok(a.inhibitRules!.some((r) => r.equal.length > 0));
  assert.ok(a.escalations!.length >= 2, 'a chain of escalations');
  const rule = config.rules.find((r) => r.name === 'checkout-error-rate')!;
  assert.deepEqual(rule.timing.flap, { triggerM: 3, triggerN: 5, recoveryPoints: 3 });
  // Every receiver the section names is defined in the file.
  const names = new Set(config.receivers.map((r) => r.name));
  for (const n of [...Object.keys(a.receiverBudgets!), ...a.escalations!.flatMap((e) => [e.receiver, e.next])]) assert.ok(names.has(n), n);
});

test('the audit summary names alerting changes', () => {
  const a = loadConfigOrThrow(ABASE, 'a');
  const b = loadConfigOrThrow(ABASE + 'alerting:\n  ack_ttl: 2h\n', 'b');
  const c = loadConfigOrThrow(ABASE + 'alerting:\n  ack_ttl: 3h\n  budgets: { tenant: { pages_per_hour: 1 } }\n', 'c');
  assert.deepEqual(describeConfigChange(a, b), ['alerting added']);
  assert.deepEqual(describeConfigChange(b, c), ['alerting changed: ackTtlMs, tenantBudget']);
  assert.deepEqual(describeConfigChange(c, a), ['alerting removed']);
});

const INVALID: Array<{ name: string; yaml: string; expected: string[] }> = [
  {
    name: 'not a mapping',
    yaml: 'alerting: true\n',
    expected: ['alerting (line 16): expected a mapping with keys anti_flap, budgets, inhibit_rules, escalation, ack_ttl, got true'],
  },
  {
    name: 'unknown key',
    yaml: 'alerting:\n  budget: {}\n',
    expected: ["alerting.budget (line 17): unknown key 'budget' (did you mean 'budgets'?); valid keys: anti_flap, budgets, inhibit_rules, escalation, ack_ttl"],
  },
  {
    name: 'unknown budgets key',
    yaml: 'alerting:\n  budgets:\n    per_receiver: {}\n',
    expected: ["alerting.budgets.per_receiver (line 18): unknown key 'per_receiver' (did you mean 'each_receiver'?); valid keys: tenant, each_receiver, receivers, summary_delay"],
  },
  {
    name: 'm above n',
    yaml: 'alerting:\n  anti_flap:\n    trigger: { m: 4, n: 3 }\n',
    expected: ['alerting.anti_flap.trigger.m (line 18): expected an integer from 1 up to 3, got 4; m anomalous points among the last n trigger, so m cannot exceed n'],
  },
  {
    name: 'n above 31',
    yaml: 'alerting:\n  anti_flap:\n    trigger: { m: 2, n: 40 }\n',
    expected: ['alerting.anti_flap.trigger.n (line 18): expected an integer from 1 up to 31, got 40'],
  },
  {
    name: 'trigger without n',
    yaml: 'alerting:\n  anti_flap:\n    trigger: { m: 2 }\n',
    expected: ["alerting.anti_flap.trigger.n (line 18): required key 'n' is missing"],
  },
  {
    name: 'recovery zero',
    yaml: 'alerting:\n  anti_flap:\n    recovery: { points: 0 }\n',
    expected: ['alerting.anti_flap.recovery.points (line 18): expected a positive integer, got 0'],
  },
  {
    name: 'no_data_after without unit',
    yaml: 'alerting:\n  anti_flap:\n    no_data_after: 600\n',
    expected: ['alerting.anti_flap.no_data_after (line 18): expected a positive duration like 30s, 5m or 1h30m, got 600 (a duration needs a unit: ms, s, m, h, d or w)'],
  },
  {
    name: 'negative and fractional budgets',
    yaml: 'alerting:\n  budgets:\n    tenant: { pages_per_hour: -1, notifications_per_hour: 2.5 }\n',
    expected: [
      'alerting.budgets.tenant.pages_per_hour (line 18): expected a non-negative integer, got -1',
      'alerting.budgets.tenant.notifications_per_hour (line 18): expected a non-negative integer, got 2.5',
    ],
  },
  {
    name: 'budget for an undefined receiver',
    yaml: 'alerting:\n  budgets:\n    receivers:\n      - { name: pagr, pages_per_hour: 1 }\n',
    expected: ["alerting.budgets.receivers[0].name (line 19): receiver 'pagr' is not defined (did you mean 'pager'?); defined receivers: pager, lead, chat"],
  },
  {
    name: 'two budgets for one receiver',
    yaml: 'alerting:\n  budgets:\n    receivers:\n      - { name: pager, pages_per_hour: 1 }\n      - { name: pager, pages_per_hour: 2 }\n',
    expected: ["alerting.budgets.receivers[1].name (line 20): receiver 'pager' already has a budget at alerting.budgets.receivers[0]"],
  },
  {
    name: 'receiver budget without caps',
    yaml: 'alerting:\n  budgets:\n    receivers:\n      - { name: pager }\n',
    expected: ['alerting.budgets.receivers[0] (line 19): expected pages_per_hour or notifications_per_hour (or both) next to the receiver name'],
  },
  {
    name: 'summary delay too long',
    yaml: 'alerting:\n  budgets:\n    summary_delay: 2d\n',
    expected: ['alerting.budgets.summary_delay (line 18): expected a duration of at most 1d, got "2d"'],
  },
  {
    name: 'inhibit rule without target',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: '{severity=\"S2\"}' }\n",
    expected: ["alerting.inhibit_rules[0].target (line 18): required key 'target' is missing"],
  },
  {
    name: 'matchers without braces',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: 'severity=\"S2\"', target: '{severity=\"S1\"}' }\n",
    expected: ["alerting.inhibit_rules[0].source (line 18): invalid matchers \"severity=\\\"S2\\\"\": expected '{', found 's' at column 1"],
  },
  {
    name: 'unclosed matchers',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: '{severity=\"S2\"', target: '{severity=\"S1\"}' }\n",
    expected: ["alerting.inhibit_rules[0].source (line 18): invalid matchers \"{severity=\\\"S2\\\"\": expected ',' or '}', found end of matchers"],
  },
  {
    name: 'empty matchers',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: '{}', target: '{severity=\"S1\"}' }\n",
    expected: ['alerting.inhibit_rules[0].source (line 18): expected at least one matcher: empty braces match every alert of the tenant'],
  },
  {
    name: 'labels no alert carries, and a severity that never matches',
    yaml: "alerting:\n  inhibit_rules:\n    - source: '{regin=\"eu\"}'\n      target: '{severity=\"S9\"}'\n      equal: [servce]\n",
    expected: [
      "alerting.inhibit_rules[0].source (line 18): no alert carries label 'regin' (did you mean 'region'?): alerts carry tenant, rule, metric, severity, owner, plus each rule's group_by and labels",
      'alerting.inhibit_rules[0].target (line 19): severity is one of S0, S1, S2, S3, so "S9" never matches',
      "alerting.inhibit_rules[0].equal[0] (line 20): no alert carries label 'servce': alerts carry tenant, rule, metric, severity, owner, plus each rule's group_by and labels",
    ],
  },
  {
    name: 'matcher regex outside RE2',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: '{region=~\"(?=eu)\"}', target: '{severity=\"S1\"}' }\n",
    expected: ["alerting.inhibit_rules[0].source (line 18): invalid matchers \"{region=~\\\"(?=eu)\\\"}\": invalid regular expression for label 'region': lookaround assertions are not supported (RE2 syntax)"],
  },
  {
    name: 'matchers not a string',
    yaml: "alerting:\n  inhibit_rules:\n    - { source: [severity], target: '{severity=\"S1\"}' }\n",
    expected: ["alerting.inhibit_rules[0].source (line 18): expected label matchers in braces like '{severity=\"S3\", region=~\"eu-.*\"}' (quote it), got a list [\"severity\"]"],
  },
  {
    name: 'escalation to itself',
    yaml: 'alerting:\n  escalation:\n    - { receiver: pager, after: 15m, next: pager }\n',
    expected: ["alerting.escalation[0].next (line 18): escalating 'pager' to itself would page the same people again"],
  },
  {
    name: 'two escalations of one receiver',
    yaml: 'alerting:\n  escalation:\n    - { receiver: pager, after: 15m, next: lead }\n    - { receiver: pager, after: 30m, next: chat }\n',
    expected: ["alerting.escalation[1].receiver (line 19): receiver 'pager' already has an escalation"],
  },
  {
    name: 'escalation loop',
    yaml: 'alerting:\n  escalation:\n    - { receiver: pager, after: 15m, next: lead }\n    - { receiver: lead, after: 15m, next: chat }\n    - { receiver: chat, after: 15m, next: lead }\n',
    expected: ['alerting.escalation[1].next (line 19): escalation loops back: lead -> chat -> lead; an unacknowledged page would go round forever, so end the chain'],
  },
  {
    name: 'escalation to an undefined receiver',
    yaml: 'alerting:\n  escalation:\n    - { receiver: pager, after: 15m, next: leed }\n',
    expected: ["alerting.escalation[0].next (line 18): receiver 'leed' is not defined (did you mean 'lead'?); defined receivers: pager, lead, chat"],
  },
  {
    name: 'escalation without a positive after',
    yaml: 'alerting:\n  escalation:\n    - { receiver: pager, next: lead }\n    - { receiver: lead, after: 0s, next: chat }\n',
    expected: [
      "alerting.escalation[0].after (line 18): required key 'after' is missing",
      'alerting.escalation[1].after (line 19): expected a positive duration like 30s, 5m or 1h30m, got "0s"',
    ],
  },
  {
    name: 'ack ttl too long',
    yaml: 'alerting:\n  ack_ttl: 31d\n',
    expected: ['alerting.ack_ttl (line 17): expected a positive duration of at most 30d, got "31d"'],
  },
  {
    name: 'rule trigger m above n',
    yaml: '    timing: { trigger: { m: 3, n: 2 } }\n',
    expected: ['rules[0].timing.trigger.m (line 16): expected an integer from 1 up to 2, got 3; m anomalous points among the last n trigger, so m cannot exceed n'],
  },
  {
    name: 'rule recovery misspelt',
    yaml: '    timing:\n      recovery: { point: 2 }\n',
    expected: [
      "rules[0].timing.recovery.point (line 17): unknown key 'point' (did you mean 'points'?); valid keys: points",
      "rules[0].timing.recovery.points (line 17): required key 'points' is missing",
    ],
  },
  {
    name: 'rule trigger not a mapping',
    yaml: '    timing: { trigger: 3 }\n',
    expected: ['rules[0].timing.trigger (line 16): expected a mapping with keys m, n, got 3'],
  },
];

for (const c of INVALID) {
  test(`invalid alerting: ${c.name}`, () => {
    const r = loadConfig(ABASE + c.yaml, c.name);
    assert.equal(r.config, undefined);
    assert.deepEqual(messages(r.errors), c.expected);
  });
}
