import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seriesKey } from '../ingest/names.ts';
import { DEFAULT_RULE, SeriesEntry, TenantState } from './tenant.ts';

function entry(metric: string, labels: Record<string, string>): SeriesEntry {
  const flat = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).flat();
  return new SeriesEntry(0, seriesKey(metric, flat, flat.length), metric, labels, DEFAULT_RULE);
}

describe('SeriesEntry', () => {
  it('gives back the labels its key spells, and keeps labels a key does not spell', () => {
    const e = entry('http_requests_total', { path: '/a "b"\\', code: '200' });
    assert.deepEqual(e.labelsNow(), { code: '200', path: '/a "b"\\' });
    assert.notEqual(e.labelsNow(), e.labelsNow(), 'one-off callers get fresh objects');
    assert.equal(e.labels, e.labels, 'hot callers get one kept object');
    assert.ok(Object.isFrozen(e.labels));
    const odd = new SeriesEntry(0, 'custom-key', 'm', { a: '1' }, DEFAULT_RULE);
    assert.deepEqual(odd.labelsNow(), { a: '1' });
    const wrong = new SeriesEntry(0, 'm{a="1"}', 'm', { a: '2' }, DEFAULT_RULE);
    assert.deepEqual(wrong.labels, { a: '2' }, 'the caller\'s labels win over a key that disagrees');
  });

  it('packs flags and origin without mixing them up', () => {
    const e = entry('m', {});
    assert.deepEqual([e.dirty, e.ended, e.learning, e.origin], [false, false, true, 'new']);
    e.dirty = true;
    e.origin = 'replay';
    e.learning = false;
    assert.deepEqual([e.dirty, e.ended, e.learning, e.origin], [true, false, false, 'replay']);
    e.ended = true;
    e.replayed = 20_000;
    e.origin = 'checkpoint';
    e.dirty = false;
    assert.deepEqual([e.dirty, e.ended, e.learning, e.origin, e.replayed], [false, true, false, 'checkpoint', 20_000]);
    e.replayed = 0;
    assert.deepEqual([e.dirty, e.ended, e.learning, e.origin, e.replayed], [false, true, false, 'checkpoint', 0]);
  });

  it('keeps lastSeen to the second, never earlier than it was', () => {
    const e = entry('m', {});
    for (const t of [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_999, 0, 86_400_000]) {
      e.lastSeen = t;
      assert.ok(e.lastSeen >= t && e.lastSeen - t < 1000, `${t} -> ${e.lastSeen}`);
    }
  });

  it('rare fields come and go', () => {
    const e = entry('m', { a: 'x' });
    assert.equal(e.ready, null);
    let release!: () => void;
    e.ready = new Promise<void>((r) => (release = r));
    assert.notEqual(e.ready, null);
    e.ready = null;
    release();
    assert.equal(e.ready, null);
    e.held = [1];
    assert.deepEqual([e.held, e.feeds, e.group], [[1], null, undefined]);
    e.held = null;
    assert.equal(e.held, null);
    e.feeds = [];
    assert.deepEqual(e.feeds, []);
    e.feeds = null;
    assert.equal(e.feeds, null);
  });
});

describe('TenantState label values', () => {
  it('counts distinct values per metric and label as series come and go', async () => {
    const ts = new TenantState('t');
    const { config } = (await import('../config/index.ts')).loadConfig('tenant: t\nlimits:\n  label_values_per_metric: 2\n', 'test');
    ts.applyConfig(config, 1);
    const a = entry('m', { pod: 'a' });
    const b = entry('m', { pod: 'b' });
    ts.add(a);
    ts.add(b);
    assert.equal(ts.admit('m', { pod: 'a' }), undefined, 'a known value is fine');
    assert.equal(ts.admit('m', { pod: 'c' })?.reason, 'label_value_limit');
    assert.equal(ts.admit('other', { pod: 'c' }), undefined, 'per metric');
    ts.remove(b);
    assert.equal(ts.admit('m', { pod: 'c' }), undefined, 'a value frees up when its last series goes');
  });
});
