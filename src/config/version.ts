/**
 * Config versions and audit entries, as pure functions; the store persists them. A version is
 * the exact text an operator submitted (comments included), its SHA-256, who and when.
 */
import { createHash } from 'node:crypto';
import { configDiff } from './diff.ts';
import type { TenantConfig } from './types.ts';

export interface ConfigVersion {
  /** 1 for the first version of a tenant's config, then +1 per accepted change. */
  readonly version: number;
  readonly text: string;
  /** `sha256:<hex>` of the text, to spot no-op submissions and to pin what an alert ran under. */
  readonly hash: string;
  readonly author: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

/** `sha256:` + the hex SHA-256 of the UTF-8 text. */
export function hashConfig(text: string): string {
  return `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;
}

/**
 * The version that follows `prev` (or the first one). The caller validates `text` first;
 * `at` comes from the injected clock.
 * @example const v2 = nextConfigVersion(v1, text, 'alice', now())
 */
export function nextConfigVersion(prev: ConfigVersion | undefined, text: string, author: string, at: number): ConfigVersion {
  return Object.freeze({ version: (prev?.version ?? 0) + 1, text, hash: hashConfig(text), author, at });
}

/** One audit-log record of a config change. */
export interface ConfigAuditEntry {
  readonly tenant: string;
  readonly fromVersion: number | undefined;
  readonly toVersion: number;
  readonly author: string;
  readonly at: number;
  /** One line per semantic change: `rule 'x' changed: severity, timing`. */
  readonly summary: readonly string[];
  /** Unified line diff of the texts. */
  readonly diff: string;
}

function byName<T extends { name: string }>(items: readonly T[]): Map<string, T> {
  return new Map(items.map((x) => [x.name, x]));
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What changed between two configs, per named item and field, for humans reading the audit log. */
export function describeConfigChange(before: TenantConfig | undefined, after: TenantConfig): string[] {
  const out: string[] = [];
  const kinds = [
    ['metric', before?.metrics ?? [], after.metrics],
    ['rule', before?.rules ?? [], after.rules],
    ['receiver', before?.receivers ?? [], after.receivers],
  ] as const;
  for (const [kind, olds, news] of kinds) {
    const o = byName<{ name: string }>(olds);
    const n = byName<{ name: string }>(news);
    for (const [name, item] of n) {
      const prev = o.get(name);
      if (!prev) out.push(`${kind} '${name}' added`);
      else if (!same(prev, item)) {
        const keys = Object.keys(item).filter((k) => !same((prev as Record<string, unknown>)[k], (item as Record<string, unknown>)[k]));
        out.push(`${kind} '${name}' changed: ${keys.join(', ')}`);
      }
    }
    for (const name of o.keys()) if (!n.has(name)) out.push(`${kind} '${name}' removed`);
  }
  if (!same(before?.route, after.route)) out.push(before?.route === undefined ? 'route added' : after.route === undefined ? 'route removed' : 'route changed');
  if (before && !same(before.limits, after.limits)) {
    const keys = Object.keys(after.limits) as Array<keyof TenantConfig['limits']>;
    out.push(`limits changed: ${keys.filter((k) => before.limits[k] !== after.limits[k]).map((k) => `${k} ${before.limits[k]} -> ${after.limits[k]}`).join(', ')}`);
  }
  if (!same(before?.alerting, after.alerting)) {
    if (after.alerting === undefined) out.push('alerting removed');
    else if (before?.alerting === undefined) out.push('alerting added');
    else {
      const keys = [...new Set([...Object.keys(before.alerting), ...Object.keys(after.alerting)])];
      const changed = keys.filter((k) => !same((before.alerting as Record<string, unknown>)[k], (after.alerting as Record<string, unknown>)[k]));
      out.push(`alerting changed: ${changed.join(', ')}`);
    }
  }
  if (before && before.tenant !== after.tenant) out.push(`tenant renamed: ${before.tenant} -> ${after.tenant}`);
  return out;
}

/**
 * The audit record for replacing `prev` with `next`. Pass the loaded configs for a semantic
 * summary; the text diff is always there.
 */
export function auditConfigChange(
  tenant: string,
  prev: { version: ConfigVersion; config: TenantConfig } | undefined,
  next: { version: ConfigVersion; config: TenantConfig },
): ConfigAuditEntry {
  const summary = describeConfigChange(prev?.config, next.config);
  if (summary.length === 0) summary.push(prev && prev.version.hash === next.version.hash ? 'no change' : 'comments or formatting only');
  return Object.freeze({
    tenant,
    fromVersion: prev?.version.version,
    toVersion: next.version.version,
    author: next.version.author,
    at: next.version.at,
    summary: Object.freeze(summary),
    diff: configDiff(prev?.version.text ?? '', next.version.text, {
      oldName: prev ? `${tenant} v${prev.version.version}` : '/dev/null',
      newName: `${tenant} v${next.version.version}`,
    }),
  });
}
