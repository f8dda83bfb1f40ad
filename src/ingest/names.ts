/**
 * Metric and label name rules shared by every decoder: validation (Prometheus's classic
 * character sets), the canonical series key, and the two sanitisers that foreign formats need
 * (Prometheus's OTLP translator, Telegraf's Prometheus output).
 */

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NEEDS_ESCAPE_RE = /[\\"\n]/;
const ESCAPE_RE = /[\\"\n]/g;

/** True if `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function isValidMetricName(name: string): boolean {
  return METRIC_NAME_RE.test(name);
}

/** True if `name` is a valid label name: `[a-zA-Z_][a-zA-Z0-9_]*`. */
export function isValidLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

function escapeChar(c: string): string {
  return c === '\n' ? '\\n' : '\\' + c;
}

/** Escapes a label value as PromQL and the text exposition format do (`\\`, `\"`, `\n`). */
export function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE_RE.test(value) ? value.replace(ESCAPE_RE, escapeChar) : value;
}

/**
 * The canonical series key: `name{a="x",b="y"}` from labels already sorted by name (flat
 * `[name, value, …]`, first `count` entries), or just `name` without labels. Names are valid
 * by construction and values are escaped, so the key is unambiguous.
 */
export function seriesKey(metric: string, labels: readonly string[], count: number): string {
  if (count === 0) return metric;
  // Joined from a reused array of pieces: join writes one flat string (~130 bytes for a
  // 6-label key), where `+` built a tree of ~30 string pieces (~1.2 KB of garbage a key, on
  // every new series) that had to be flattened afterwards.
  const parts = KEY_PARTS;
  let p = 0;
  parts[p++] = metric;
  for (let i = 0; i < count; i += 2) {
    parts[p++] = i === 0 ? '{' : ',';
    parts[p++] = labels[i];
    parts[p++] = '="';
    parts[p++] = escapeLabelValue(labels[i + 1]);
    parts[p++] = '"';
  }
  parts[p++] = '}';
  // The array keeps its length (no backing store re-allocated per key): a longer key's tail
  // from before is blanked, and this key's pieces are blanked after the join.
  for (let i = p; i < parts.length; i++) parts[i] = '';
  const key = parts.join('');
  for (let i = 0; i < p; i++) parts[i] = '';
  return key;
}

const KEY_PARTS: string[] = [];

/**
 * The inverse of `seriesKey`: metric and labels (a fresh object, names in key order) of a
 * canonical key, or undefined when `key` is not one. Lets a holder of millions of series keep
 * the key alone and rebuild labels when asked, instead of a labels object per series beside it.
 */
export function parseSeriesKey(key: string): { metric: string; labels: Record<string, string> } | undefined {
  const open = key.indexOf('{');
  if (open < 0) return isValidMetricName(key) ? { metric: key, labels: {} } : undefined;
  const metric = key.slice(0, open);
  if (!isValidMetricName(metric) || key.charCodeAt(key.length - 1) !== 125 /* } */) return undefined;
  const labels: Record<string, string> = {};
  let i = open + 1;
  const end = key.length - 1;
  while (i < end) {
    const eq = key.indexOf('="', i);
    if (eq < 0) return undefined;
    const name = key.slice(i, eq);
    if (!isValidLabelName(name) || Object.prototype.hasOwnProperty.call(labels, name)) return undefined;
    let value = '';
    let j = eq + 2;
    let from = j;
    for (;;) {
      if (j >= end) return undefined;
      const c = key.charCodeAt(j);
      if (c === 34 /* " */) break;
      if (c === 92 /* \ */) {
        const n = key.charCodeAt(j + 1);
        const ch = n === 110 ? '\n' : n === 92 ? '\\' : n === 34 ? '"' : undefined;
        if (ch === undefined) return undefined;
        value += key.slice(from, j) + ch;
        j += 2;
        from = j;
        continue;
      }
      j++;
    }
    value += key.slice(from, j);
    labels[name] = value;
    i = j + 1;
    if (i < end) {
      if (key.charCodeAt(i) !== 44 /* , */) return undefined;
      i++;
      if (i === end) return undefined;
    }
  }
  return { metric, labels };
}

const OTLP_LABEL_INVALID_RE = /[^a-zA-Z0-9_]/gu;
const OTLP_METRIC_SPLIT_RE = /[^a-zA-Z0-9_:]+/u;

/**
 * An OTLP attribute key as a label name, as Prometheus's OTLP translator (`NormalizeLabel`)
 * does it: every character outside `[a-zA-Z0-9_]` becomes `_` (so `service.name` becomes
 * `service_name`), a leading digit gets `key_`, a single leading underscore gets `key`
 * (`_x` becomes `key_x`; `__x` is kept). Returns '' for an empty key.
 */
export function otlpLabelName(key: string): string {
  if (key.length === 0) return key;
  let name = LABEL_NAME_RE.test(key) ? key : key.replace(OTLP_LABEL_INVALID_RE, '_');
  const c = name.charCodeAt(0);
  if (c >= 48 && c <= 57) name = 'key_' + name;
  else if (c === 95 && name.charCodeAt(1) !== 95) name = 'key' + name;
  return name;
}

/**
 * An OTLP metric name as a Prometheus metric name, as the translator does without unit and
 * `_total` suffixes: runs of characters outside `[a-zA-Z0-9_:]` become one `_` and are trimmed
 * at the ends (`http.server.duration` becomes `http_server_duration`), and a leading digit gets
 * `_`. Suffixes are not added: the series kind already says "counter", and names then match
 * what the OTel SDK user typed. Returns '' when nothing valid is left.
 */
export function otlpMetricName(name: string): string {
  if (METRIC_NAME_RE.test(name)) return name;
  const parts = name.split(OTLP_METRIC_SPLIT_RE);
  let out = '';
  for (const p of parts) {
    if (p.length === 0) continue;
    out = out.length === 0 ? p : out + '_' + p;
  }
  const c = out.charCodeAt(0);
  return c >= 48 && c <= 57 ? '_' + out : out;
}

function isAlpha(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * A name made valid the way Telegraf's Prometheus serializer does (`SanitizeMetricName` /
 * `SanitizeLabelName`): a valid name is kept; otherwise an invalid first character is dropped,
 * later invalid characters become `_` (one per code point), and `_` is trimmed from both ends.
 * Returns '' when nothing is left (Telegraf then drops the metric or tag).
 */
export function telegrafName(name: string, isMetric: boolean): string {
  if (isMetric ? METRIC_NAME_RE.test(name) : LABEL_NAME_RE.test(name)) return name;
  let out = '';
  let first = true;
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    const ok = ch.length === 1 && (isAlpha(c) || c === 95 || (isMetric && c === 58) || (!first && isDigit(c)));
    if (first) {
      if (ok) out += ch;
      first = false;
    } else {
      out += ok ? ch : '_';
    }
  }
  let s = 0;
  let e = out.length;
  while (s < e && out.charCodeAt(s) === 95) s++;
  while (e > s && out.charCodeAt(e - 1) === 95) e--;
  return out.slice(s, e);
}
