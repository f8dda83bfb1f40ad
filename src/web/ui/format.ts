// Formatting for the UI: times, durations, numbers. Pure (no DOM), tested in node.

const pad = (n: number) => String(n).padStart(2, '0');

/** `2025-07-01 14:05` in the viewer's time zone (with seconds when asked). */
export function fmtTime(ms: number | null | undefined, seconds = false): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return seconds ? `${base}:${pad(d.getSeconds())}` : base;
}

/** A duration in the two largest units: `45s`, `12m`, `3h 5m`, `2d 4h`. */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size || (unit === 's' && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  // Drop a trailing zero part ("3h 0m" reads as "3h").
  if (parts.length === 2 && /^0/.test(parts[1])) parts.pop();
  return (neg ? '-' : '') + parts.join(' ');
}

/** `5m ago` / `in 5m`. */
export function fmtAgo(ms: number, now: number): string {
  const d = now - ms;
  return d >= 0 ? `${fmtDuration(d)} ago` : `in ${fmtDuration(-d)}`;
}

/** Up to 4 significant digits, thousands grouped, `–` for missing. */
export function fmtNum(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(4)).toLocaleString('en-US', { maximumFractionDigits: 4 });
}

/** A share 0..1 as `82%` (one decimal under 10%). */
export function fmtShare(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const p = v * 100;
  return `${Math.abs(p) < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

/** Seconds for a Prometheus query_range step that keeps a range under `maxPoints` points, on a round value. */
export function stepFor(rangeMs: number, maxPoints = 10_800): number {
  const raw = Math.ceil(rangeMs / 1000 / maxPoints);
  for (const s of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400]) if (s >= raw) return s;
  return Math.ceil(raw / 86400) * 86400;
}

/** A value for `<input type="datetime-local">` in the viewer's zone. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Only http(s) URLs become links: a `javascript:` runbook stays text. */
export function safeHref(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : undefined;
  } catch {
    return undefined;
  }
}
