// Helpers for alert tests: a stage on a YAML config with a settable clock, and verdicts made to order.
import { loadConfigOrThrow, type TenantConfig } from '../config/index.ts';
import { resolvePolicy } from './policy.ts';
import { AlertStage, WATCH_ALL } from './stage.ts';
import type { AlertEffects } from './stage.ts';
import type { Dispatch, Labels, VerdictView } from './types.ts';

export const T0 = Date.UTC(2025, 6, 1, 12, 0, 0); // a Tuesday, 12:00 UTC
export const MIN = 60_000;

/** A small tenant config: `lat` pages (S2, limit gate on ok_ratio), grouped by region. */
export function testConfigYaml(extraRule = '', ruleOverrides = ''): string {
  return `
tenant: t1
metrics:
  - { name: latency, type: gauge, unit: s, help: x, labels: [service, region] }
  - { name: errors, type: gauge, unit: x, help: x, labels: [service, region] }
  - { name: ok_ratio, type: gauge, unit: ratio, help: x, labels: [region] }
receivers:
  - name: pager
    pagerduty: { routing_key: R0123456789ABCDEF0123456789ABCDE }
  - name: chat
    slack: { webhook_url: 'https://hooks.slack.com/services/T/B/X' }
  - name: boss
    webhook: { url: 'https://hooks.example.com/boss' }
route:
  receiver: chat
  routes:
    - match: { severity: S2 }
      receiver: pager
rules:
  - name: lat
    selector: latency
    aggregation: { function: avg, window: 1m }
    severity: S2
    impact: { limit: { selector: ok_ratio, below: 0.98 } }
    owner: team-a
    runbook: https://runbooks.example.com/lat
    group_by: [region]
    timing: { for: 1m, keep_firing_for: 2m, group_wait: 30s, group_interval: 5m, repeat_interval: 4h }
${ruleOverrides}
${extraRule}`;
}

export class Sim {
  now = T0;
  config: TenantConfig;
  version = 1;
  policy: unknown;
  readonly stage: AlertStage;
  readonly dispatches: Dispatch[] = [];
  readonly effects: AlertEffects[] = [];
  /**
   * Pass a point only as the engine does: when the stage watches the series (WATCH_ALL) or the
   * score reaches the threshold. Off: every point is passed.
   */
  asEngine = false;

  constructor(yaml = testConfigYaml(), policy: unknown = {}) {
    this.config = loadConfigOrThrow(yaml, 'test.yaml');
    this.policy = policy;
    const resolved = resolvePolicy(policy);
    this.stage = new AlertStage({ clock: () => this.now, config: () => ({ config: this.config, version: this.version }), policy: () => resolved });
  }

  /**
   * One judged point; `score` 1 is anomalous for the default thresholds, 0 is normal; `outside`:
   * the value lies outside the band (a condition reported once that still holds).
   */
  point(seriesId: number, metric: string, labels: Labels, t: number, value: number, score: number, learning = false, outside = false): void {
    const hot = score >= 0.5;
    const reasons = hot ? ['above_band'] : ['normal'];
    const sources = hot ? ['robust_z'] : ['seasonal_baseline'];
    this.verdict(seriesId, metric, labels, t, value, { score, expected: 10, lower: 5, upper: 15, learning, reasons, sources, outside });
  }

  /** One judged point with a verdict made to order. */
  verdict(seriesId: number, metric: string, labels: Labels, t: number, value: number, v: VerdictView): void {
    const rule = this.config.rules.find((r) => r.name && metric === r.selector.metric)?.name ?? '';
    const threshold = this.config.rules.find((r) => r.name === rule)?.sensitivity.threshold ?? 0.9;
    let watch = seriesId < this.stage.watch.length ? this.stage.watch[seriesId] : 0;
    if (watch === 0) watch = this.stage.classify('t1', seriesId, metric, labels, rule, this.version);
    if (this.asEngine && watch !== WATCH_ALL && !(!v.learning && v.score >= threshold)) return;
    this.stage.observe('t1', seriesId, metric, labels, rule, threshold, t, value, v, this.version);
    this.collect();
  }

  /** Moves the clock to `to`, running every deadline on the way. */
  advance(to: number): void {
    for (;;) {
      const d = this.stage.nextDeadline();
      if (d > to) break;
      this.now = Math.max(this.now, d);
      this.stage.tick();
      this.collect();
    }
    this.now = to;
    this.stage.tick();
    this.collect();
  }

  collect(): void {
    const e = this.stage.drain();
    this.effects.push(e);
    this.dispatches.push(...e.dispatches);
  }

  /** Dispatches of one kind (and receiver), taken out of the list. */
  take(kind?: Dispatch['kind'], receiver?: string): Dispatch[] {
    const out: Dispatch[] = [];
    for (let i = 0; i < this.dispatches.length; i++) {
      const d = this.dispatches[i];
      if ((kind === undefined || d.kind === kind) && (receiver === undefined || d.receiver === receiver)) {
        out.push(d);
        this.dispatches.splice(i--, 1);
      }
    }
    return out;
  }

  /** The newest upsert of an alert. */
  lastUpsert(fingerprint: string) {
    for (let i = this.effects.length - 1; i >= 0; i--) {
      const u = this.effects[i].upserts;
      for (let j = u.length - 1; j >= 0; j--) if (u[j].fingerprint === fingerprint) return u[j];
    }
    return undefined;
  }
}
