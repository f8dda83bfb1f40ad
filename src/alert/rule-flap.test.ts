import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN, Sim, T0, testConfigYaml } from './testkit.ts';
test('a rule trigger of 2 of 2 needs two anomalous points', () => {
  const base = testConfigYaml().replace('repeat_interval: 4h }', 'repeat_interval: 4h, for: 0s }').replace('timing: { for: 1m,', 'timing: {');
  const yaml = base.replace('repeat_interval: 4h', 'repeat_interval: 4h, trigger: { m: 2, n: 2 }');
  for (const [y, want] of [[base, 1], [yaml, 0]] as const) {
    const s = new Sim(y);
    s.point(1, 'latency', { service: 'x', region: 'eu' }, T0, 100, 1);
    s.advance(T0 + MIN);
    assert.equal(s.effects.flatMap((e) => e.upserts).filter((u) => u.state === 'firing').length, want, y);
  }
});
