/**
 * The `feedback:` section: what the server may change on its own from feedback labels (issue 8,
 * "applied by an operator or automatically within bounds set in config, and audited"). Strict
 * like the rest of the file; see README "Learning from feedback".
 *
 * ```yaml
 * feedback:
 *   auto_apply:
 *     enabled: true
 *     kinds: [raise_for, widen_band]   # suggestion kinds that may apply themselves (reset_baseline never does)
 *     max_sensitivity_step: 1          # widen_band: steps per rule within 7 days (0 forbids)
 *     max_for: 30m                     # raise_for: never past this
 *     min_real_kept: 1                 # share of alerts labelled real that must still fire (1: lose none)
 *     every: 1h                        # also checked after each new feedback label
 * ```
 */
import type { Reader, Fields } from './reader.ts';

export type AutoApplyKind = 'raise_for' | 'widen_band' | 'exclude_window';
export const AUTO_APPLY_KINDS: readonly AutoApplyKind[] = ['raise_for', 'widen_band', 'exclude_window'];

export interface AutoApply {
  readonly enabled: boolean;
  readonly kinds: readonly AutoApplyKind[];
  /** widen_band: sensitivity steps the server may take per rule within the suggestion lookback (7 d). */
  readonly maxSensitivityStep: number;
  readonly maxForMs: number;
  /** 0 to 1: alerts labelled real that must still fire after the change, as a share of them. */
  readonly minRealKept: number;
  readonly everyMs: number;
}

export interface FeedbackConfig {
  readonly autoApply: AutoApply;
}

export const AUTO_APPLY_DEFAULTS: AutoApply = Object.freeze({
  enabled: false, // a change nobody reviewed is opt-in
  kinds: Object.freeze(['raise_for', 'widen_band']) as readonly AutoApplyKind[],
  maxSensitivityStep: 1,
  maxForMs: 30 * 60_000, // half the suggester's own 1 h cap: unattended, stay nearer to what people chose
  minRealKept: 1, // losing an alert someone called real is what a human should decide
  everyMs: 3_600_000,
});

const KEYS = ['auto_apply'];
const AUTO_KEYS = ['enabled', 'kinds', 'max_sensitivity_step', 'max_for', 'min_real_kept', 'every'];

/** Reads `feedback:`; undefined (with issues recorded) when anything is wrong. */
export function readFeedback(r: Reader, top: Fields): FeedbackConfig | undefined {
  const f = r.mappingAt(top, 'feedback', KEYS);
  if (!f) return undefined;
  const d = AUTO_APPLY_DEFAULTS;
  if (!f.has('auto_apply')) return { autoApply: d };
  const a = r.mappingAt(f, 'auto_apply', AUTO_KEYS, ['enabled']);
  if (!a) return undefined;
  const before = r.issues.length;
  const enabled = r.boolean(a, 'enabled');
  let kinds: AutoApplyKind[] | undefined = [...d.kinds];
  if (a.has('kinds')) {
    const list = r.stringList(a, 'kinds', `one of ${AUTO_APPLY_KINDS.join(', ')} (reset_baseline needs an operator)`, (s) => AUTO_APPLY_KINDS.includes(s as AutoApplyKind));
    kinds = list && ([...new Set(list)] as AutoApplyKind[]);
  }
  const maxSensitivityStep = a.has('max_sensitivity_step') ? r.number(a, 'max_sensitivity_step', { integer: true, min: 0, max: 3 }) : d.maxSensitivityStep;
  const maxForMs = a.has('max_for') ? r.duration(a, 'max_for', { positive: true, max: 3_600_000, maxText: '1h' }) : d.maxForMs;
  const minRealKept = a.has('min_real_kept') ? r.number(a, 'min_real_kept', { min: 0, max: 1 }) : d.minRealKept;
  const everyMs = a.has('every') ? r.duration(a, 'every', { positive: true, max: 7 * 86_400_000, maxText: '7d' }) : d.everyMs;
  if (everyMs !== undefined && everyMs < 60_000) r.error(a.at('every'), a.get('every') ?? a.node, 'check at most once a minute (each check runs two backtests per suggestion)');
  if (r.issues.length !== before || enabled === undefined || !kinds || maxSensitivityStep === undefined || maxForMs === undefined || minRealKept === undefined || everyMs === undefined) return undefined;
  return { autoApply: { enabled, kinds, maxSensitivityStep, maxForMs, minRealKept, everyMs } };
}
