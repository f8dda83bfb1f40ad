import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDetectorEntries } from './detectors.ts';

test('detector files in YAML and JSON', () => {
  const cases: [string, string][] = [
    ['yaml', 'detectors:\n  - name: robust_z\n    config: {window: 32}\n  - name: cusum\n'],
    ['json', '{"detectors": [{"name": "robust_z", "config": {"window": 32}}, {"name": "cusum"}]}'],
  ];
  for (const [name, text] of cases) {
    assert.deepEqual(parseDetectorEntries(text, 'd.yaml'), [{ name: 'robust_z', config: { window: 32 } }, { name: 'cusum' }], name);
  }
});

test('detector files are strict', () => {
  const cases: [string, string, string][] = [
    ['unknown top-level key', 'detectors: [{name: a}]\nthreshold: 3\n', "d.yaml: threshold: unknown key 'threshold' (valid: detectors)"],
    ['unknown entry key', 'detectors: [{name: a, window: 3}]\n', "d.yaml: detectors[0].window: unknown key 'window' (valid: name, config)"],
    ['missing name', 'detectors: [{config: {}}]\n', 'd.yaml: detectors[0].name: expected a detector name'],
    ['empty list', 'detectors: []\n', 'd.yaml: detectors: expected a non-empty list of {name, config} entries'],
    ['not a mapping', '- a\n- b\n', 'd.yaml: expected a mapping with a `detectors` list, e.g. detectors: [{name: robust_z}]'],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseDetectorEntries(text, 'd.yaml'), { code: 'TM_ERR_CONFIG', message }, name);
  }
});
