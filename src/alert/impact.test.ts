import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSelector, type ImpactGate, type Selector } from '../config/index.ts';
import { ImpactTracker, ROLE_ERRORS, ROLE_LIMIT, ROLE_TOTAL } from './impact.ts';

const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;

function sel(text: string): Selector {
  const r = parseSelector(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.selector;
}

const SLO: ImpactGate = {
  kind: 'slo',
  objective: 99.9,
  errors: sel('requests_total{code=~"5.."}'),
  total: sel('requests_total'),
  windows: [
    { longMs: 60 * MIN, shortMs: 5 * MIN, burnRate: 14.4 },
    { longMs: 360 * MIN, shortMs: 30 * MIN, burnRate: 6 },
  ],
};

/** Feeds two counters (ok and 5xx) every 10 s; `errFrac(t)` is the share of errors. */
function feed(g: ImpactTracker, from: number, to: number, state: { ok: number; err: number }, errFrac: (t: number) => number, reset?: number): void {
  for (let t = from; t < to; t += 10_000) {
    if (reset !== undefined && t === reset) {
      state.ok = 0;
      state.err = 0;
    }
    const f = errFrac(t);
    state.ok += 1000 * (1 - f);
    state.err += 1000 * f;
    g.observe(1, g.roles('requests_total', { code: '200' }), t, state.ok, 'requests_total');
    g.observe(2, g.roles('requests_total', { code: '500' }), t, state.err, 'requests_total');
  }
}

test('roles: errors series feed errors and total; others only total; unrelated none', () => {
  const g = new ImpactTracker(SLO);
  assert.equal(g.roles('requests_total', { code: '503' }), ROLE_ERRORS | ROLE_TOTAL);
  assert.equal(g.roles('requests_total', { code: '200' }), ROLE_TOTAL);
  assert.equal(g.roles('other', {}), 0);
  assert.equal(new ImpactTracker({ kind: 'limit', selector: sel('ok_ratio'), op: 'below', value: 0.98 }).roles('ok_ratio', {}), ROLE_LIMIT);
});

test('SLO multi-window burn rate: a short burst is not impact; a sustained 20x burn is, in both windows', () => {
  const g = new ImpactTracker(SLO);
  const s = { ok: 0, err: 0 };
  feed(g, T0, T0 + 120 * MIN, s, () => 0.0005); // 0.5x for 2 h
  assert.equal(g.evaluate(T0 + 120 * MIN - 10_000).ok, false);
  feed(g, T0 + 120 * MIN, T0 + 130 * MIN, s, () => 0.02); // 20x for 10 min
  const early = g.evaluate(T0 + 130 * MIN - 10_000);
  assert.equal(early.ok, false, early.reason);
  assert.match(early.reason, /^no impact: SLO 99\.9% error budget burning [\d.]+x over 1h and 20x over 5m \(needs 14\.4x in both\)/);
  feed(g, T0 + 130 * MIN, T0 + 170 * MIN, s, () => 0.02); // 50 min at 20x: the 1h window reaches 16.75x
  const late = g.evaluate(T0 + 170 * MIN - 10_000);
  assert.equal(late.ok, true, late.reason);
  assert.match(late.reason, /^impact: SLO 99\.9% error budget burning 16\.\d+x over 1h and 20x over 5m/);
  feed(g, T0 + 170 * MIN, T0 + 180 * MIN, s, () => 0); // recovered: the 5m window clears first
  assert.equal(g.evaluate(T0 + 180 * MIN - 10_000).ok, false);
});

test('SLO: a counter reset is not read as a burn', () => {
  const g = new ImpactTracker(SLO);
  const s = { ok: 0, err: 0 };
  feed(g, T0, T0 + 90 * MIN, s, () => 0.0001, T0 + 80 * MIN);
  const r = g.evaluate(T0 + 90 * MIN - 10_000);
  assert.equal(r.ok, false);
  assert.match(r.reason, /0\.1x over 1h/);
});

const limitCases = [
  { name: 'below limit: impact', op: 'below' as const, value: 0.98, sample: 0.95, ok: true, reason: /^impact: ok_ratio = 0\.95 is below the limit 0\.98$/ },
  { name: 'above it: none', op: 'below' as const, value: 0.98, sample: 0.99, ok: false, reason: /^no impact: ok_ratio = 0\.99 is not below the limit 0\.98$/ },
  { name: 'above limit: impact', op: 'above' as const, value: 100, sample: 150, ok: true, reason: /is above the limit 100/ },
];
for (const c of limitCases) {
  test(`limit gate: ${c.name}`, () => {
    const g = new ImpactTracker({ kind: 'limit', selector: sel('ok_ratio'), op: c.op, value: c.value });
    g.observe(5, ROLE_LIMIT, T0, c.sample, 'ok_ratio');
    const r = g.evaluate(T0 + MIN);
    assert.equal(r.ok, c.ok);
    assert.match(r.reason, c.reason);
  });
}

test('limit gate: a stale impact sample (older than 5 min) is no evidence', () => {
  const g = new ImpactTracker({ kind: 'limit', selector: sel('ok_ratio'), op: 'below', value: 0.98 });
  g.observe(5, ROLE_LIMIT, T0, 0.5, 'ok_ratio');
  const r = g.evaluate(T0 + 6 * MIN);
  assert.equal(r.ok, false);
  assert.match(r.reason, /no recent sample of the impact metric ok_ratio/);
});
