import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTO_APPLY_DEFAULTS, loadConfig } from './index.ts';

const BASE = 'tenant: default\n';
const load = (section: string) => loadConfig(`${BASE}${section}`, 'test');

test('feedback.auto_apply: absent, defaults, and every bound read', () => {
  assert.equal(load('').config?.feedback, undefined);
  assert.deepEqual(load('feedback:\n  auto_apply: { enabled: true }\n').config?.feedback?.autoApply, { ...AUTO_APPLY_DEFAULTS, enabled: true });
  assert.equal(AUTO_APPLY_DEFAULTS.enabled, false);
  const c = load('feedback:\n  auto_apply:\n    enabled: true\n    kinds: [exclude_window, raise_for]\n    max_sensitivity_step: 2\n    max_for: 20m\n    min_real_kept: 0.9\n    every: 15m\n').config;
  assert.deepEqual(c?.feedback?.autoApply, { enabled: true, kinds: ['exclude_window', 'raise_for'], maxSensitivityStep: 2, maxForMs: 20 * 60_000, minRealKept: 0.9, everyMs: 15 * 60_000 });
});

for (const [name, section, path, message] of [
  ['an unknown key', 'feedback:\n  auto_apply: { enabled: true, max_steps: 1 }\n', 'feedback.auto_apply.max_steps', /unknown|not a valid|did you mean/i],
  ['enabled missing', 'feedback:\n  auto_apply: { kinds: [raise_for] }\n', 'feedback.auto_apply', /enabled/],
  ['reset_baseline as a kind', 'feedback:\n  auto_apply: { enabled: true, kinds: [reset_baseline] }\n', 'feedback.auto_apply.kinds', /operator/],
  ['max_for past 1h', 'feedback:\n  auto_apply: { enabled: true, max_for: 2h }\n', 'feedback.auto_apply.max_for', /1h/],
  ['min_real_kept above 1', 'feedback:\n  auto_apply: { enabled: true, min_real_kept: 1.5 }\n', 'feedback.auto_apply.min_real_kept', /1/],
  ['a negative step', 'feedback:\n  auto_apply: { enabled: true, max_sensitivity_step: -1 }\n', 'feedback.auto_apply.max_sensitivity_step', /0/],
  ['every under a minute', 'feedback:\n  auto_apply: { enabled: true, every: 10s }\n', 'feedback.auto_apply.every', /once a minute/],
  ['enabled not a boolean', 'feedback:\n  auto_apply: { enabled: yes please }\n', 'feedback.auto_apply.enabled', /true or false/],
] as const) {
  test(`feedback.auto_apply rejects ${name}, naming the field`, () => {
    const { config, errors } = load(section);
    assert.equal(config, undefined);
    const e = errors.find((x) => x.path.startsWith(path));
    assert.ok(e, `no error at ${path}: ${JSON.stringify(errors)}`);
    assert.match(e.message, message);
  });
}
