import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDetectorSet, newFusedVerdict } from '../detect/index.ts';
import { EVAL_SYNTH, generateSuite } from './index.ts';

const DAY = 86_400_000;

// The generator's holiday (day 9) lowers traffic, and with it latency and cpu, for a day. Where
// weekly_shift does not report it (latency and cpu move a few percent), its hours entered the
// table, and the same hours a week later looked like a shift up: reports on clean series. An
// hour's mean now moves its reference by at most one spread a week (weekly-shift.ts hourMean).
describe('the default profile the week after a holiday', () => {
  it('stays mostly quiet on clean series (4 suites at 5 minutes, 18 days)', () => {
    const reports: string[] = [];
    for (const seed of [2024, 31, 5, 11]) {
      for (const s of generateSuite({ ...EVAL_SYNTH, seed, intervalMs: 300_000, days: 18 })) {
        if (s.anomaly !== null) continue;
        const holiday = s.expected.find((e) => e.kind === 'holiday');
        assert.ok(holiday, `${s.name} has a holiday`);
        const set = createDetectorSet();
        const state = set.init();
        const v = newFusedVerdict();
        for (let i = 0; i < s.times.length; i++) {
          set.update(state, s.times[i]!, s.values[i]!, v);
          if (v.score >= 0.9 && v.sources[0] === 'weekly_shift' && s.times[i]! > holiday.end + 5 * DAY) reports.push(`seed ${seed} ${s.name} ${v.reasons[0]}`);
        }
      }
    }
    // 15 before hourMean (40 clean series); 7 with it.
    assert.ok(reports.length <= 9, `${reports.length} reports: ${reports.join(', ')}`);
  });
});
