import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeChange, humanDuration, KIND_PRIOR, rankChanges, type ChangeLike, type CorrelationTarget } from './correlate.ts';

const MIN = 60_000;
const ONSET = Date.UTC(2025, 6, 8, 12, 0);

function change(id: number, over: Partial<ChangeLike>): ChangeLike {
  return { id, t: ONSET - 5 * MIN, kind: 'deploy', service: 'api', labels: {}, text: `change ${id}`, ...over };
}

const EU: CorrelationTarget = {
  onset: ONSET,
  labels: { service: 'api' },
  segments: [{ pairs: [{ dimension: 'region', value: 'eu-west-1' }], share: 0.82 }],
};

describe('rankChanges', () => {
  const cases: { name: string; target: CorrelationTarget; changes: ChangeLike[]; want: number[] }[] = [
    {
      name: 'closer before the onset ranks first',
      target: { onset: ONSET, labels: { service: 'api' }, segments: [] },
      changes: [change(1, { t: ONSET - 60 * MIN }), change(2, { t: ONSET - 4 * MIN }), change(3, { t: ONSET - 20 * MIN })],
      want: [2, 3, 1],
    },
    {
      name: 'after the onset ranks low; within the grace it is only ambiguous',
      target: { onset: ONSET, labels: { service: 'api' }, segments: [] },
      changes: [change(1, { t: ONSET + 10 * MIN }), change(2, { t: ONSET + MIN }), change(3, { t: ONSET - 10 * MIN })],
      want: [3, 2, 1],
    },
    {
      name: 'kind prior: deploy > config > flag > schema > infra',
      target: { onset: ONSET, labels: { service: 'api' }, segments: [] },
      changes: (['infra', 'schema', 'flag', 'config', 'deploy'] as const).map((kind, i) => change(i + 1, { kind })),
      want: [5, 4, 3],
    },
    {
      name: 'the segment carrying the delta beats another region, even closer in time',
      target: EU,
      changes: [change(1, { t: ONSET - MIN, labels: { region: 'us-east-1' } }), change(2, { t: ONSET - 4 * MIN, labels: { region: 'eu-west-1' } })],
      want: [2, 1],
    },
    {
      name: 'scope overturns the kind prior: an infra event on the failing device class beats an unscoped deploy',
      target: { onset: ONSET, labels: { service: 'app' }, segments: [{ pairs: [{ dimension: 'device', value: 'android_low_end' }], share: 0.97 }] },
      changes: [change(1, { service: 'app', t: ONSET - 25 * MIN }), change(2, { kind: 'infra', service: 'edge-gateway', t: ONSET - 6 * MIN, labels: { device: 'android_low_end' } })],
      want: [2, 1],
    },
    {
      name: "the alert's service beats another service",
      target: { onset: ONSET, labels: { service: 'api' }, segments: [] },
      changes: [change(1, { service: 'billing' }), change(2, { service: 'api' })],
      want: [2, 1],
    },
    {
      name: "a change contradicting the alert's own labels ranks low",
      target: { onset: ONSET, labels: { service: 'api', region: 'eu-west-1' }, segments: [] },
      changes: [change(1, { labels: { region: 'us-east-1' }, t: ONSET - MIN }), change(2, { kind: 'flag', t: ONSET - 10 * MIN })],
      want: [2, 1],
    },
    {
      name: "a segment value named only in the change's text still counts",
      target: EU,
      changes: [change(1, { text: 'rollout v2 to all regions' }), change(2, { text: 'rollout v2 to eu-west-1' })],
      want: [2, 1],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(rankChanges(c.changes, c.target).map((r) => r.change.id), c.want);
    });
  }

  it('writes the evidence the on-call reads', () => {
    const [r] = rankChanges([change(7, { t: ONSET - 4 * MIN, labels: { region: 'eu-west-1' }, text: 'v2.3.1' })], EU);
    assert.equal(r.evidence, 'deploy api v2.3.1 in eu-west-1, 4 minutes before onset; eu-west-1 carries 82% of the delta');
    assert.equal(r.segment, 'region=eu-west-1');
    assert.equal(r.offsetMs, -4 * MIN);
    assert.ok(r.confidence > 0.85, `confidence ${r.confidence}`);
  });

  it('says when a change came after the onset or outside the delta', () => {
    const [late] = rankChanges([change(1, { t: ONSET + 10 * MIN, labels: { region: 'eu-west-1' } })], EU);
    assert.match(late.evidence, /10 minutes after onset, so more likely a reaction than the cause/);
    const [elsewhere] = rankChanges([change(2, { labels: { region: 'us-east-1' } })], EU);
    assert.match(elsewhere.evidence, /but its scope is not where the delta is/);
    assert.ok(elsewhere.confidence < 0.3);
  });

  it('keeps the top three by default, and the confidence is the logistic of the score', () => {
    const rs = rankChanges([1, 2, 3, 4, 5].map((i) => change(i, { t: ONSET - i * MIN })), EU);
    assert.equal(rs.length, 3);
    for (const r of rs) assert.ok(Math.abs(r.confidence - 1 / (1 + Math.exp(-r.score))) < 1e-12);
    assert.equal(rs[0].factors.kind, KIND_PRIOR.deploy);
  });
});

describe('describeChange and humanDuration', () => {
  const cases: { name: string; c: ChangeLike; want: string }[] = [
    { name: 'kind service text scope', c: change(1, { text: 'v2.3.1', labels: { region: 'eu-west-1' } }), want: 'deploy api v2.3.1 in eu-west-1' },
    { name: 'text already names kind and service', c: change(1, { text: 'deploy api v2.3.1 to eu-west-1', labels: { region: 'eu-west-1' } }), want: 'deploy api v2.3.1 to eu-west-1' },
    { name: 'no labels', c: change(1, { kind: 'flag', service: 'web', text: 'dark-mode on' }), want: 'flag web dark-mode on' },
  ];
  for (const c of cases) it(c.name, () => assert.equal(describeChange(c.c), c.want));
  it('durations', () => {
    assert.deepEqual([30_000, 60_000, 4 * MIN, 150 * MIN, 3 * 86_400_000].map(humanDuration), ['30 seconds', '60 seconds', '4 minutes', '2.5 hours', '3 days']);
  });
});
