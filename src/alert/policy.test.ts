import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { DEFAULT_ALERT_POLICY, resolvePolicy } from './policy.ts';

test('defaults: Alertmanager-like and frozen', () => {
  const p = resolvePolicy();
  assert.deepEqual(p, DEFAULT_ALERT_POLICY);
  assert.ok(Object.isFrozen(p));
});

test('partial merge keeps the other defaults', () => {
  const p = resolvePolicy({ tenantBudget: { pagesPerHour: 5 }, flap: { triggerM: 2, triggerN: 3 } });
  assert.equal(p.tenantBudget.pagesPerHour, 5);
  assert.equal(p.tenantBudget.notificationsPerHour, DEFAULT_ALERT_POLICY.tenantBudget.notificationsPerHour);
  assert.equal(p.flap.triggerM, 2);
  assert.equal(p.flap.recoveryPoints, 1);
});

const bad = [
  { name: 'unknown key', input: { budgets: {} }, path: 'alerting.budgets' },
  { name: 'M > N', input: { flap: { triggerM: 4, triggerN: 3 } }, path: 'alerting.flap.triggerM' },
  { name: 'negative budget', input: { receiverBudget: { pagesPerHour: -1 } }, path: 'alerting.receiverBudget.pagesPerHour' },
  { name: 'self escalation', input: { escalations: [{ receiver: 'a', next: 'a', afterMs: 1 }] }, path: 'alerting.escalations[0].next' },
  { name: 'bad matcher op', input: { inhibitRules: [{ source: [{ name: 'a', op: '==', value: 'b' }], target: [], equal: [] }] }, path: 'alerting.inhibitRules[0].source[0].op' },
  { name: 'bad url', input: { externalUrl: 'ftp://x' }, path: 'alerting.externalUrl' },
];
for (const c of bad) {
  test(`policy refused: ${c.name}`, () => {
    assert.throws(() => resolvePolicy(c.input), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_CONFIG' && e.path === c.path);
  });
}
