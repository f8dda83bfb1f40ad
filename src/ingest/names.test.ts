import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeLabelValue, isValidLabelName, isValidMetricName, otlpLabelName, otlpMetricName, parseSeriesKey, seriesKey, telegrafName } from './names.ts';

describe('name validation', () => {
  const metric: [string, boolean][] = [
    ['http_requests_total', true],
    ['job:rate5m', true],
    [':leading_colon', true],
    ['_x', true],
    ['1abc', false],
    ['a-b', false],
    ['a.b', false],
    ['', false],
    ['ü', false],
  ];
  for (const [name, ok] of metric) it(`metric ${JSON.stringify(name)} is ${ok ? 'valid' : 'invalid'}`, () => assert.equal(isValidMetricName(name), ok));
  const label: [string, boolean][] = [
    ['service', true],
    ['__meta', true],
    ['a:b', false],
    ['9x', false],
    ['', false],
  ];
  for (const [name, ok] of label) it(`label ${JSON.stringify(name)} is ${ok ? 'valid' : 'invalid'}`, () => assert.equal(isValidLabelName(name), ok));
});

describe('seriesKey', () => {
  it('joins sorted labels and escapes values', () => {
    assert.equal(seriesKey('m', ['a', 'x', 'b', 'say "hi"\\\n'], 4), 'm{a="x",b="say \\"hi\\"\\\\\\n"}');
    assert.equal(seriesKey('m', ['a', 'x'], 0), 'm');
    assert.equal(escapeLabelValue('plain'), 'plain');
  });
});

describe('parseSeriesKey', () => {
  it('inverts seriesKey, escapes included', () => {
    const cases: [string, string[]][] = [
      ['m', []],
      ['http_requests_total', ['code', '200', 'path', '/a,b="c"}', 'x', '']],
      ['m:x', ['a', 'say "hi"\\\n', 'b', '\\n', 'c', '{}']],
    ];
    for (const [metric, flat] of cases) {
      const key = seriesKey(metric, flat, flat.length);
      const labels: Record<string, string> = {};
      for (let i = 0; i < flat.length; i += 2) labels[flat[i]] = flat[i + 1];
      assert.deepEqual(parseSeriesKey(key), { metric, labels });
      assert.deepEqual(Object.keys(parseSeriesKey(key)!.labels), Object.keys(labels));
    }
  });
  it('refuses what seriesKey cannot produce', () => {
    for (const bad of ['', '1m', 'm{', 'm{a="x"', 'm{a="x",}', 'm{a=x}', 'm{a="x"b="y"}', 'm{a="\\q"}', 'm{a="x",a="y"}', 'm{9a="x"}', '\u0001rule\u0000g']) {
      assert.equal(parseSeriesKey(bad), undefined, bad);
    }
  });
});

describe('otlpLabelName (Prometheus NormalizeLabel)', () => {
  const cases: [string, string][] = [
    ['service.name', 'service_name'],
    ['http.response.status_code', 'http_response_status_code'],
    ['k8s-pod/name', 'k8s_pod_name'],
    ['2xx', 'key_2xx'],
    ['_private', 'key_private'],
    ['__reserved', '__reserved'],
    ['ünïcode', 'key_n_code'],
    ['emoji🙂', 'emoji_'],
    ['', ''],
  ];
  for (const [key, want] of cases) it(`${JSON.stringify(key)} -> ${JSON.stringify(want)}`, () => assert.equal(otlpLabelName(key), want));
});

describe('otlpMetricName (without unit suffixes)', () => {
  const cases: [string, string][] = [
    ['http.server.request.duration', 'http_server_request_duration'],
    ['already_valid', 'already_valid'],
    ['a..b', 'a_b'],
    ['.leading.and.trailing.', 'leading_and_trailing'],
    ['ns:metric.x', 'ns:metric_x'],
    ['3d.render', '_3d_render'],
    ['!!!', ''],
  ];
  for (const [name, want] of cases) it(`${JSON.stringify(name)} -> ${JSON.stringify(want)}`, () => assert.equal(otlpMetricName(name), want));
});

describe('telegrafName (Telegraf SanitizeMetricName / SanitizeLabelName)', () => {
  const cases: [string, boolean, string][] = [
    ['cpu_usage_idle', true, 'cpu_usage_idle'],
    ['disk-io_reads', true, 'disk_io_reads'],
    ['9lives_x', true, 'lives_x'],
    ['a:b', true, 'a:b'],
    ['a:b', false, 'a_b'],
    ['__x__', true, '__x__'],
    ['-x-', true, 'x'],
    ['ü', true, ''],
    ['host name', false, 'host_name'],
    ['-', false, ''],
  ];
  for (const [name, isMetric, want] of cases) {
    it(`${isMetric ? 'metric' : 'label'} ${JSON.stringify(name)} -> ${JSON.stringify(want)}`, () => assert.equal(telegrafName(name, isMetric), want));
  }
});
