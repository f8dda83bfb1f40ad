import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChangeLike } from './correlate.ts';
import { drill, type ChildObservation } from './drill.ts';
import { buildTriagePacket, CHANGE_CONFIDENCE_FLOOR, impactText, type AlertFacts, type PacketInput, type RelatedCandidate } from './packet.ts';
import { gaussian, prng } from './testdata.ts';

const MIN = 60_000;
const ONSET = Date.UTC(2025, 6, 8, 12, 0);

const ALERT: AlertFacts = {
  tenant: 't', fingerprint: 'f0', metric: 'requests', labels: { service: 'api' }, rule: 'r', state: 'firing', severity: 'S2',
  startsAt: ONSET, endsAt: null, firingAt: ONSET + MIN, value: 50, expected: 100, lower: 90, upper: 110, score: 0.99,
  detectors: [{ name: 'robust_z', reason: 'dip' }], configVersion: 3, owner: 'team-api', runbook: 'https://rb/api', triageUrl: 'https://tm/ui/triage/t/f0',
};

/** dim x 4 values x 3 others; `factor(value)` scales the children of one value of `dim`. */
function childrenBy(dim: string, values: string[], factor: (v: string) => number, seed = 1): ChildObservation[] {
  const rand = prng(seed);
  const out: ChildObservation[] = [];
  for (const v of values) {
    for (const o of ['x', 'y', 'z']) {
      const e = 400 + Math.floor(rand() * 600);
      out.push({ labels: { [dim]: v, other: o }, real: e * factor(v) * (1 + 0.02 * gaussian(rand)), expected: e });
    }
  }
  return out;
}

function input(over: Partial<PacketInput>): PacketInput {
  return {
    alert: ALERT, now: ONSET + 2 * MIN, onset: ONSET, drill: undefined, drillScope: { service: 'api' }, drillNote: null,
    impact: { kind: 'none', gate: null }, changes: [], candidates: [], ...over,
  };
}

const change = (over: Partial<ChangeLike>): ChangeLike => ({ id: 1, t: ONSET - 3 * MIN, kind: 'deploy', service: 'api', labels: {}, text: 'v2', ...over });

describe('buildTriagePacket: suggestions follow the top change and segment', () => {
  const regions = ['eu', 'us', 'ap', 'sa'];
  const cases: { name: string; dim: string; values: string[]; bad: string; change?: Partial<ChangeLike>; want: RegExp[] }[] = [
    { name: 'deploy in the failing region: roll back, fail over', dim: 'region', values: regions, bad: 'eu', change: { labels: { region: 'eu' } }, want: [/^rollback: roll back deploy api v2 in eu/, /^failover: fail over region eu/] },
    { name: 'config push: revert it', dim: 'region', values: regions, bad: 'eu', change: { kind: 'config', labels: { region: 'eu' }, text: 'pool size 4' }, want: [/^revert: revert the config push: config api pool size 4 in eu/] },
    { name: 'flag: turn it back', dim: 'region', values: regions, bad: 'eu', change: { kind: 'flag', labels: { region: 'eu' }, text: 'fast-path' }, want: [/^revert: turn the flag back/] },
    { name: 'one host: drain it', dim: 'host', values: ['h1', 'h2', 'h3', 'h4'], bad: 'h3', want: [/^drain: drain host h3/] },
    { name: 'one version without a deploy event: halt its rollout', dim: 'app_version', values: ['1.0', '1.1', '1.2', '1.3'], bad: '1.3', want: [/^rollback: halt the rollout of app_version 1\.3/] },
    { name: 'one device class: check the upstream', dim: 'device', values: ['ios', 'web', 'android', 'tv'], bad: 'android', want: [/^investigate: check the upstream dependency or client release serving device=android/] },
    { name: 'one endpoint: check that path', dim: 'endpoint', values: ['/a', '/b', '/c', '/d'], bad: '/c', want: [/^investigate: check endpoint \/c/] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = drill(childrenBy(c.dim, c.values, (v) => (v === c.bad ? 0.1 : 1)));
      const p = buildTriagePacket(input({ drill: d, changes: c.change ? [change(c.change)] : [] }));
      assert.equal(p.where.segments[0]?.text, `${c.dim}=${c.bad}`);
      assert.ok(p.where.segments[0].suspect);
      const got = p.next.suggestions.map((s) => `${s.action}: ${s.text}`);
      for (const re of c.want) assert.ok(got.some((g) => re.test(g)), `${re} in ${JSON.stringify(got)}`);
      assert.equal(got[got.length - 1], 'runbook: follow the runbook: https://rb/api');
    });
  }
});

describe('buildTriagePacket: humility', () => {
  it('a global move names no segment and no change, and says to verify', () => {
    const d = drill(childrenBy('region', ['eu', 'us', 'ap', 'sa'], () => 1.7));
    const p = buildTriagePacket(input({ drill: d, changes: [change({ t: ONSET - 150 * MIN }), change({ id: 2, service: 'search', kind: 'config', t: ONSET - 20 * MIN })] }));
    assert.ok(p.where.global);
    assert.equal(p.where.segments.filter((s) => s.suspect).length, 0);
    assert.ok(p.why.changes.every((c) => !c.suspect && c.confidence < CHANGE_CONFIDENCE_FLOOR));
    assert.deepEqual(p.next.suggestions.map((s) => s.action), ['verify', 'investigate', 'runbook']);
    assert.match(p.summary[0], /^where: the whole aggregate moved up ×1\.\d\d/);
    assert.match(p.summary[1], /^why: no recorded change is a likely cause: 2 considered, none above 30%/);
  });

  it('no change events and no children: says so instead of guessing', () => {
    const p = buildTriagePacket(input({ drillNote: 'no child series of requests to drill into' }));
    assert.equal(p.where.mode, 'none');
    assert.equal(p.where.verdict, 'no child series of requests to drill into');
    assert.equal(p.why.verdict, 'no change events were recorded around the onset');
    assert.deepEqual(p.next.suggestions.map((s) => s.action), ['investigate', 'runbook']);
  });
});

describe('buildTriagePacket: sections', () => {
  it('what, when and next come from the alert', () => {
    const p = buildTriagePacket(input({ onset: ONSET - 2 * MIN }));
    assert.deepEqual(p.what.band, { lower: 90, upper: 110 });
    assert.equal(p.what.configVersion, 3);
    assert.deepEqual(p.what.detectors, [{ name: 'robust_z', reason: 'dip' }]);
    assert.deepEqual(p.when, { start: ONSET, onset: ONSET - 2 * MIN, detectedAt: ONSET + MIN, durationMs: 2 * MIN, endsAt: null });
    assert.equal(p.next.owner, 'team-api');
    assert.equal(p.next.triageUrl, 'https://tm/ui/triage/t/f0');
  });

  it('related: same service or shared labels, open, at the same time; never itself', () => {
    const cand = (fingerprint: string, labels: Record<string, string>, startsAt = ONSET, state = 'firing'): RelatedCandidate => ({ fingerprint, metric: 'm', labels: { tenant: 't', rule: 'r', severity: 'S1', ...labels }, state, severity: 'S1', startsAt });
    const p = buildTriagePacket(input({
      alert: { ...ALERT, labels: { service: 'api', region: 'eu' } },
      candidates: [
        cand('f0', { service: 'api' }),
        cand('same-service', { service: 'api', region: 'us' }, ONSET + 2 * MIN),
        cand('shared-label', { service: 'db', region: 'eu' }, ONSET - 5 * MIN),
        cand('unrelated', { service: 'db', region: 'us' }),
        cand('too-early', { service: 'api' }, ONSET - 3 * 3_600_000),
        cand('resolved', { service: 'api' }, ONSET, 'resolved'),
      ],
    }));
    assert.deepEqual(p.related.map((r) => [r.fingerprint, r.reason]), [
      ['same-service', 'same service api, started 2 minutes after'],
      ['shared-label', 'shares region=eu, started 5 minutes before'],
    ]);
  });

  const impacts: { name: string; impact: PacketInput['impact']; want: string }[] = [
    {
      name: 'slo burn',
      impact: { kind: 'slo', objective: 99.9, errorRatio: 0.02, gate: null, burnRates: [{ longMs: 3_600_000, shortMs: 300_000, long: 20, short: 25, threshold: 14.4 }, { longMs: 21_600_000, shortMs: 1_800_000, long: 4, short: 9, threshold: 6 }] },
      want: 'SLO 99.9%: error ratio 2.00%, error budget burning 20x over 60 minutes and 25x over 5 minutes (page at 14.4x)',
    },
    { name: 'limit', impact: { kind: 'limit', selector: 'ok_ratio', op: 'below', limit: 0.98, value: 0.95, gate: null }, want: 'impact metric ok_ratio = 0.95 (limit: below 0.98)' },
    { name: 'limit without data', impact: { kind: 'limit', selector: 'ok_ratio', op: 'below', limit: 0.98, value: null, gate: null }, want: 'impact metric ok_ratio: no recent sample' },
    { name: 'none', impact: { kind: 'none', gate: null }, want: 'the rule has no impact gate (SLO or impact metric); impact unknown' },
  ];
  for (const c of impacts) it(`impact text: ${c.name}`, () => assert.equal(impactText(c.impact), c.want));
});
