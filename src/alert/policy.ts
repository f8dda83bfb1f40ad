/**
 * The tenant-wide alerting policy: defaults in one frozen object (units in comments), and a
 * strict merge that refuses unknown keys and bad values with a message naming the path.
 */
import { TidemarkError } from '../errors.ts';
import type { AlertPolicy, Budget, Escalation, InhibitRule, Matcher } from './types.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export const DEFAULT_ALERT_POLICY: AlertPolicy = Object.freeze({
  flap: Object.freeze({
    triggerM: 1, // 1 anomalous point ...
    triggerN: 1, // ... of the last 1 triggers (rule `for` adds a minimum duration)
    recoveryPoints: 1, // 1 normal point ends the condition (rule keep_firing_for adds time)
    noDataAfterMs: 10 * MINUTE, // 10m without a verdict: the alert's data is unknown
  }),
  tenantBudget: Object.freeze({ pagesPerHour: 30, notificationsPerHour: 300 }),
  receiverBudget: Object.freeze({ pagesPerHour: 20, notificationsPerHour: 100 }),
  receiverBudgets: Object.freeze({}),
  budgetSummaryDelayMs: 5 * MINUTE, // 5m after the first held notification
  inhibitRules: Object.freeze([]) as readonly InhibitRule[],
  escalations: Object.freeze([]) as readonly Escalation[],
  ackTtlMs: 1 * HOUR, // 1h
  persistIntervalMs: 10_000, // 10s
  externalUrl: 'http://localhost:9464',
  alertmanagerValidForMs: 4 * HOUR + 10 * MINUTE, // repeat_interval 4h + margin: re-sent before it lapses
});

const TOP = ['flap', 'tenantBudget', 'receiverBudget', 'receiverBudgets', 'budgetSummaryDelayMs', 'inhibitRules', 'escalations', 'ackTtlMs', 'persistIntervalMs', 'externalUrl', 'alertmanagerValidForMs'];
const FLAP = ['triggerM', 'triggerN', 'recoveryPoints', 'noDataAfterMs'];
const BUDGET = ['pagesPerHour', 'notificationsPerHour'];
const OPS = ['=', '!=', '=~', '!~'];

function fail(path: string, message: string): never {
  throw new TidemarkError('TM_ERR_CONFIG', message, path);
}

function keys(o: unknown, allowed: readonly string[], path: string): Record<string, unknown> {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) fail(path, 'expected an object');
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${path}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`);
  return o as Record<string, unknown>;
}

function int(v: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v;
}

function budget(v: unknown, base: Budget, path: string): Budget {
  const o = keys(v, BUDGET, path);
  return Object.freeze({
    pagesPerHour: o.pagesPerHour === undefined ? base.pagesPerHour : int(o.pagesPerHour, `${path}.pagesPerHour`, 0),
    notificationsPerHour: o.notificationsPerHour === undefined ? base.notificationsPerHour : int(o.notificationsPerHour, `${path}.notificationsPerHour`, 0),
  });
}

function matchers(v: unknown, path: string): Matcher[] {
  if (!Array.isArray(v)) fail(path, 'expected a list of {name, op, value} matchers');
  return v.map((m, i) => {
    const o = keys(m, ['name', 'op', 'value'], `${path}[${i}]`);
    if (typeof o.name !== 'string' || o.name === '') fail(`${path}[${i}].name`, 'expected a label name');
    if (typeof o.op !== 'string' || !OPS.includes(o.op)) fail(`${path}[${i}].op`, `expected one of ${OPS.join(' ')}`);
    if (typeof o.value !== 'string') fail(`${path}[${i}].value`, 'expected a string');
    return Object.freeze({ name: o.name, op: o.op as Matcher['op'], value: o.value });
  });
}

/**
 * Merges a partial policy over the defaults, strictly (unknown keys and bad values throw
 * TM_ERR_CONFIG naming the path). The result is frozen.
 * @example resolvePolicy({ tenantBudget: { pagesPerHour: 5 } })
 */
export function resolvePolicy(partial: unknown = {}, base: AlertPolicy = DEFAULT_ALERT_POLICY): AlertPolicy {
  const o = keys(partial, TOP, 'alerting');
  let flap = base.flap;
  if (o.flap !== undefined) {
    const f = keys(o.flap, FLAP, 'alerting.flap');
    const triggerN = f.triggerN === undefined ? flap.triggerN : int(f.triggerN, 'alerting.flap.triggerN', 1, 31);
    const triggerM = f.triggerM === undefined ? Math.min(flap.triggerM, triggerN) : int(f.triggerM, 'alerting.flap.triggerM', 1, triggerN);
    flap = Object.freeze({
      triggerM,
      triggerN,
      recoveryPoints: f.recoveryPoints === undefined ? flap.recoveryPoints : int(f.recoveryPoints, 'alerting.flap.recoveryPoints', 1, 1_000),
      noDataAfterMs: f.noDataAfterMs === undefined ? flap.noDataAfterMs : int(f.noDataAfterMs, 'alerting.flap.noDataAfterMs', 1),
    });
  }
  const receiverBudgets: Record<string, Budget> = { ...base.receiverBudgets };
  if (o.receiverBudgets !== undefined) {
    const rb = keys(o.receiverBudgets, Object.keys(o.receiverBudgets as object), 'alerting.receiverBudgets');
    for (const [name, b] of Object.entries(rb)) receiverBudgets[name] = budget(b, base.receiverBudget, `alerting.receiverBudgets.${name}`);
  }
  const inhibitRules = o.inhibitRules === undefined ? base.inhibitRules : (() => {
    if (!Array.isArray(o.inhibitRules)) fail('alerting.inhibitRules', 'expected a list');
    return o.inhibitRules.map((r, i) => {
      const p = `alerting.inhibitRules[${i}]`;
      const x = keys(r, ['source', 'target', 'equal'], p);
      const equal = x.equal === undefined ? [] : x.equal;
      if (!Array.isArray(equal) || equal.some((e) => typeof e !== 'string')) fail(`${p}.equal`, 'expected a list of label names');
      return Object.freeze({ source: matchers(x.source, `${p}.source`), target: matchers(x.target, `${p}.target`), equal: Object.freeze([...equal as string[]]) });
    });
  })();
  const escalations = o.escalations === undefined ? base.escalations : (() => {
    if (!Array.isArray(o.escalations)) fail('alerting.escalations', 'expected a list');
    const seen = new Set<string>();
    return o.escalations.map((e, i) => {
      const p = `alerting.escalations[${i}]`;
      const x = keys(e, ['receiver', 'afterMs', 'next'], p);
      if (typeof x.receiver !== 'string' || typeof x.next !== 'string') fail(p, 'receiver and next must be receiver names');
      if (x.receiver === x.next) fail(`${p}.next`, `escalating '${x.receiver}' to itself would page the same people again`);
      if (seen.has(x.receiver)) fail(`${p}.receiver`, `receiver '${x.receiver}' already has an escalation`);
      seen.add(x.receiver);
      return Object.freeze({ receiver: x.receiver, next: x.next, afterMs: int(x.afterMs, `${p}.afterMs`, 1) });
    });
  })();
  const url = o.externalUrl === undefined ? base.externalUrl : o.externalUrl;
  if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) fail('alerting.externalUrl', `expected an http(s) URL, got ${JSON.stringify(url)}`);
  return Object.freeze({
    flap,
    tenantBudget: o.tenantBudget === undefined ? base.tenantBudget : budget(o.tenantBudget, base.tenantBudget, 'alerting.tenantBudget'),
    receiverBudget: o.receiverBudget === undefined ? base.receiverBudget : budget(o.receiverBudget, base.receiverBudget, 'alerting.receiverBudget'),
    receiverBudgets: Object.freeze(receiverBudgets),
    budgetSummaryDelayMs: o.budgetSummaryDelayMs === undefined ? base.budgetSummaryDelayMs : int(o.budgetSummaryDelayMs, 'alerting.budgetSummaryDelayMs', 0),
    inhibitRules: Object.freeze(inhibitRules),
    escalations: Object.freeze(escalations),
    ackTtlMs: o.ackTtlMs === undefined ? base.ackTtlMs : int(o.ackTtlMs, 'alerting.ackTtlMs', 1),
    persistIntervalMs: o.persistIntervalMs === undefined ? base.persistIntervalMs : int(o.persistIntervalMs, 'alerting.persistIntervalMs', 0),
    externalUrl: url.replace(/\/+$/, ''),
    alertmanagerValidForMs: o.alertmanagerValidForMs === undefined ? base.alertmanagerValidForMs : int(o.alertmanagerValidForMs, 'alerting.alertmanagerValidForMs', 1),
  });
}
