import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { canonicalLabels, parseLabels } from './check.ts';
import { compileMatchers, pinnedMetric } from './match.ts';
import type { Matcher } from './types.ts';

describe('compileMatchers', () => {
  const labels = { job: 'api', path: '/v1/users', code: '503', 'k8s.pod': 'api-7f9' };
  const cases: [string, Matcher[], boolean][] = [
    ['dot is any character in a regex', [{ name: 'code', op: '=~', value: '5.3' }], true],
    ['regex must match the whole value', [{ name: 'path', op: '=~', value: '/v1' }], false],
    ['regex prefix with .*', [{ name: 'path', op: '=~', value: '/v1.*' }], true],
    ['alternation is grouped before anchoring', [{ name: 'job', op: '=~', value: 'db|api' }], true],
    ['equality is exact, not a regex', [{ name: 'code', op: '=', value: '5.3' }], false],
    ['label names with dots (OTLP)', [{ name: 'k8s.pod', op: '=~', value: 'api-.*' }], true],
    ['absent label, != something', [{ name: 'region', op: '!=', value: 'eu' }], true],
    ['absent label, =~ ".+"', [{ name: 'region', op: '=~', value: '.+' }], false],
    ['absent label, !~ ".+"', [{ name: 'region', op: '!~', value: '.+' }], true],
    ['unicode in values', [{ name: 'job', op: '!~', value: '\u00e9.*' }], true],
    ['metric by __name__', [{ name: '__name__', op: '=', value: 'http' }], true],
    ['one failing matcher fails all', [{ name: 'job', op: '=', value: 'api' }, { name: 'code', op: '=', value: '200' }], false],
  ];
  for (const [title, matchers, expected] of cases) {
    it(title, () => assert.equal(compileMatchers(matchers)('http', labels), expected));
  }

  it('reports the bad matcher by index', () => {
    assert.throws(
      () => compileMatchers([{ name: 'a', op: '=', value: 'x' }, { name: 'b', op: '=~', value: 'a(b' }], 'silence.matchers'),
      (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_INPUT' && err.path === 'silence.matchers[1].value' && /invalid regular expression/.test(err.message),
    );
    assert.throws(() => compileMatchers([{ name: '', op: '=', value: 'x' }]), (err: unknown) => err instanceof TidemarkError && err.path === 'matchers[0].name');
  });

  it('pinnedMetric finds only an equality on __name__', () => {
    assert.equal(pinnedMetric([{ name: 'job', op: '=', value: 'x' }, { name: '__name__', op: '=', value: 'up' }]), 'up');
    assert.equal(pinnedMetric([{ name: '__name__', op: '=~', value: 'up' }]), undefined);
  });
});

describe('canonicalLabels', () => {
  it('sorts by name, keeps integer-like names in string order, drops empty values', () => {
    const text = canonicalLabels({ b: '1', '10': 'x', a: '2', '9': 'y', gone: '' });
    assert.equal(text, '[["10","x"],["9","y"],["a","2"],["b","1"]]');
    assert.deepEqual(parseLabels(text), { '10': 'x', '9': 'y', a: '2', b: '1' });
    assert.equal(canonicalLabels({ a: '2', b: '1' }), canonicalLabels({ b: '1', a: '2' }));
    assert.equal(canonicalLabels(undefined), '[]');
  });
});
