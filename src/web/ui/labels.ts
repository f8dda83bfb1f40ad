// Label sets, Prometheus selectors and matchers as the UI needs them. Pure (no DOM).

export type Labels = Readonly<Record<string, string>>;

export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** Labels the alert stage adds to every alert; a series label with one of these names arrives as `exported_<name>`. */
export const BUILTIN_ALERT_LABELS: readonly string[] = ['tenant', 'rule', 'metric', 'severity', 'owner'];

/** A label value quoted as in PromQL. */
export function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** `{a="1", b="2"}` sorted by name; `{}` for none. */
export function labelsText(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return `{${names.map((k) => `${k}=${quote(labels[k])}`).join(', ')}}`;
}

/** A selector for one series: `{__name__="m", a="1"}` (works for any metric name). */
export function seriesSelector(metric: string, labels: Labels): string {
  const parts = [`__name__=${quote(metric)}`];
  for (const k of Object.keys(labels).sort()) parts.push(`${k}=${quote(labels[k])}`);
  return `{${parts.join(', ')}}`;
}

/** A selector for a companion series (`tidemark_upper` etc.): the series' `metric` label moves to `exported_metric`. */
export function companionSelector(companion: string, metric: string, labels: Labels): string {
  const parts = [`metric=${quote(metric)}`];
  for (const k of Object.keys(labels).sort()) parts.push(`${k === 'metric' ? 'exported_metric' : k}=${quote(labels[k])}`);
  return `${companion}{${parts.join(', ')}}`;
}

/** Selector text for silence matchers: `{region="eu", severity=~"S[23]"}`. */
export function matchersText(matchers: readonly Matcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${quote(m.value)}`).join(', ')}}`;
}

/** The matchers a silence for this alert starts with: all its labels but severity (which may change while it fires). */
export function silencePrefill(alertLabels: Labels): string {
  const names = Object.keys(alertLabels).filter((k) => k !== 'severity').sort();
  return `{${names.map((k) => `${k}=${quote(alertLabels[k])}`).join(',')}}`;
}

/**
 * Whether every matcher holds on `labels` (a missing label reads as ''), with regexes fully
 * anchored as Prometheus does. An invalid regex matches nothing.
 */
export function matchesAll(matchers: readonly Matcher[], labels: Labels): boolean {
  for (const m of matchers) {
    const v = labels[m.name] ?? '';
    if (m.op === '=' && v !== m.value) return false;
    if (m.op === '!=' && v === m.value) return false;
    if (m.op === '=~' || m.op === '!~') {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${m.value})$`, 'u');
      } catch {
        return false;
      }
      if (re.test(v) !== (m.op === '=~')) return false;
    }
  }
  return true;
}

/** The alert's labels as the series had them: built-ins dropped, `exported_x` back to `x`. */
export function seriesLabelsOfAlert(alertLabels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(alertLabels)) {
    if (BUILTIN_ALERT_LABELS.includes(k)) continue;
    const base = k.startsWith('exported_') ? k.slice(9) : '';
    out[BUILTIN_ALERT_LABELS.includes(base) ? base : k] = v;
  }
  return out;
}

/**
 * Among candidate series of the alert's metric, the one the alert is about: every label of the
 * candidate agrees with the alert's series labels, and it has the most labels (rules may add
 * static labels to the alert that the series does not carry). Undefined when none fits.
 */
export function pickAlertSeries<T extends { labels: Labels }>(alertLabels: Labels, candidates: readonly T[]): T | undefined {
  const want = seriesLabelsOfAlert(alertLabels);
  let best: T | undefined;
  let bestN = -1;
  for (const c of candidates) {
    const names = Object.keys(c.labels);
    if (names.every((k) => want[k] === c.labels[k]) && names.length > bestN) {
      best = c;
      bestN = names.length;
    }
  }
  return best;
}

/** Prometheus result labels without `__name__` (and, for companions, back to the series' names). */
export function resultLabels(metric: Labels, companion = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metric)) {
    if (k === '__name__' || (companion && k === 'metric')) continue;
    out[companion && k === 'exported_metric' ? 'metric' : k] = v;
  }
  return out;
}

/** Same label set, order ignored. */
export function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
