import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detectorNames, getDetector } from './registry.ts';

describe('registry', () => {
  it('lists every detector, rules first', () => {
    assert.deepEqual(detectorNames(), ['threshold', 'rate_of_change', 'no_data', 'impossible_value', 'counter_reset', 'unit_change', 'null_rate', 'robust_z', 'ewma', 'cusum', 'holt_winters', 'seasonal_baseline', 'novelty', 'weekly_shift', 'new_level', 'drift']);
  });

  it('an unknown name fails listing the valid ones, with the path given', () => {
    assert.throws(() => getDetector('prophet', 'rules[2].detectors[0].name'), {
      code: 'TM_ERR_UNKNOWN_DETECTOR',
      message: `rules[2].detectors[0].name: unknown detector 'prophet'; valid detectors: ${detectorNames().join(', ')}`,
    });
  });

  for (const name of detectorNames()) {
    it(`${name}: has a summary, frozen defaults and a strict parser`, () => {
      const d = getDetector(name);
      assert.equal(d.name, name);
      assert.ok(d.summary.length > 20 && d.summary.endsWith('.'), d.summary);
      assert.ok(Object.isFrozen(d.defaults));
      assert.throws(() => d.parseConfig({ bogus: 1 }, 'x'), { code: 'TM_ERR_CONFIG', message: /^x\.bogus: unknown option 'bogus'; valid options: / });
      assert.throws(() => d.parseConfig('fast', 'x'), { code: 'TM_ERR_CONFIG', message: /^x: expected a mapping of options/ });
      if (name === 'threshold' || name === 'rate_of_change') return; // need a limit
      const c = d.parseConfig(undefined, 'x');
      assert.ok(Object.isFrozen(c));
      assert.deepEqual({ ...c }, { ...d.defaults });
    });
  }
});
