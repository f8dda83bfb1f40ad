// The metric chart: value against its expected band, out-of-band points highlighted, the
// alert's window shaded, change events as vertical markers, and the same time last week.
// uPlot draws on a canvas; the legend and the cursor readout are Preact text (escaped).
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtNum, fmtTime } from '../format.ts';

export interface ChartMarker {
  /** ms */
  t: number;
  label: string;
}

export interface ChartData {
  /** ms, ascending */
  t: number[];
  value: (number | null)[];
  expected?: (number | null)[];
  lower?: (number | null)[];
  upper?: (number | null)[];
  /** The same series a week earlier, aligned on `t`. */
  lastWeek?: (number | null)[];
}

export interface ChartProps {
  data: ChartData;
  markers?: ChartMarker[];
  /** ms: the alert's window. */
  shade?: [number, number];
  height?: number;
  label: string;
}

/** Indexes of points outside their band: what the chart highlights. */
export function outOfBand(d: ChartData): (number | null)[] {
  return d.value.map((v, i) => {
    const lo = d.lower?.[i];
    const hi = d.upper?.[i];
    return v !== null && ((lo !== null && lo !== undefined && v < lo) || (hi !== null && hi !== undefined && v > hi)) ? v : null;
  });
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function Chart({ data, markers = [], shade, height = 280, label }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [theme, setTheme] = useState(document.documentElement.dataset.theme ?? '');
  const anomalies = outOfBand(data);
  const anomalyCount = anomalies.reduce<number>((n, v) => n + (v === null ? 0 : 1), 0);

  // Redraw with the new colours when the theme changes.
  useEffect(() => {
    const obs = new MutationObserver(() => setTheme(document.documentElement.dataset.theme ?? ''));
    obs.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    return () => obs.disconnect();
  }, []);

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const c = {
      value: cssVar('--c-value', '#2563eb'),
      expected: cssVar('--c-expected', '#64748b'),
      band: cssVar('--c-band', 'rgba(100,116,139,0.18)'),
      anomaly: cssVar('--c-anomaly', '#dc2626'),
      week: cssVar('--c-week', '#a855f7'),
      marker: cssVar('--c-marker', '#d97706'),
      shade: cssVar('--c-shade', 'rgba(220,38,38,0.08)'),
      axis: cssVar('--c-axis', '#475569'),
      grid: cssVar('--c-grid', 'rgba(100,116,139,0.15)'),
    };
    const xs = data.t.map((t) => t / 1000);
    const empty = () => data.t.map(() => null);
    const cols: uPlot.AlignedData = [xs, data.value, data.expected ?? empty(), data.upper ?? empty(), data.lower ?? empty(), data.lastWeek ?? empty(), anomalies];
    const axis = { stroke: c.axis, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 6 } },
      scales: { x: { time: true } },
      axes: [axis, { ...axis, size: 60 }],
      series: [
        {},
        { label: 'value', stroke: c.value, width: 1.5, spanGaps: false },
        { label: 'expected', stroke: c.expected, width: 1, dash: [4, 3] },
        { label: 'upper', stroke: c.band, width: 0 },
        { label: 'lower', stroke: c.band, width: 0 },
        { label: 'last week', stroke: c.week, width: 1, dash: [2, 3], show: data.lastWeek !== undefined },
        { label: 'anomaly', stroke: c.anomaly, fill: c.anomaly, width: 0, paths: () => null, points: { show: true, size: 6, fill: c.anomaly, stroke: c.anomaly } },
      ],
      bands: [{ series: [3, 4], fill: c.band }],
      hooks: {
        // Under the series: the alert's window.
        drawClear: [
          (u) => {
            if (!shade) return;
            const x0 = u.valToPos(shade[0] / 1000, 'x', true);
            const x1 = u.valToPos(shade[1] / 1000, 'x', true);
            const left = Math.max(x0, u.bbox.left);
            const right = Math.min(x1, u.bbox.left + u.bbox.width);
            if (right <= left) return;
            u.ctx.save();
            u.ctx.fillStyle = c.shade;
            u.ctx.fillRect(left, u.bbox.top, right - left, u.bbox.height);
            u.ctx.restore();
          },
        ],
        // Over the series: change markers, labelled on the canvas (text drawn, never parsed).
        draw: [
          (u) => {
            const ctx = u.ctx;
            ctx.save();
            ctx.strokeStyle = c.marker;
            ctx.fillStyle = c.marker;
            ctx.lineWidth = Math.max(1, devicePixelRatio);
            ctx.setLineDash([5 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            for (const m of markers) {
              const x = Math.round(u.valToPos(m.t / 1000, 'x', true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.fillText(m.label.length > 32 ? `${m.label.slice(0, 31)}…` : m.label, x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
            }
            ctx.restore();
          },
        ],
        setCursor: [(u) => setCursor(u.cursor.idx ?? null)],
      },
    };
    const u = new uPlot(opts, cols, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, markers, shade, height, theme]); // eslint-disable-line react-hooks/exhaustive-deps

  const i = cursor ?? data.t.length - 1;
  const at = (a: (number | null)[] | undefined) => (a && i >= 0 ? a[i] : undefined);
  return (
    <figure class="chart" data-testid="chart" data-points={data.t.length} data-anomalies={anomalyCount} data-markers={markers.length}>
      <div ref={host} class="chart-canvas" role="img" aria-label={`${label}: ${data.t.length} points, ${anomalyCount} outside the expected band, ${markers.length} change markers`} />
      <figcaption class="legend">
        <span class="lg lg-value">value {fmtNum(at(data.value))}</span>
        {data.expected && <span class="lg lg-expected">expected {fmtNum(at(data.expected))}</span>}
        {data.lower && data.upper && (
          <span class="lg lg-band">
            band {fmtNum(at(data.lower))} – {fmtNum(at(data.upper))}
          </span>
        )}
        {data.lastWeek && <span class="lg lg-week">last week {fmtNum(at(data.lastWeek))}</span>}
        <span class="lg lg-anomaly">{anomalyCount} out of band</span>
        {markers.length > 0 && <span class="lg lg-marker">{markers.length} changes</span>}
        <span class="muted">{i >= 0 && data.t[i] !== undefined ? fmtTime(data.t[i], true) : ''}</span>
      </figcaption>
    </figure>
  );
}

/** A small inline chart (SVG polyline) for a table row. */
export function Sparkline({ points, width = 120, height = 28 }: { points: [number, number][]; width?: number; height?: number }) {
  const ok = points.filter(([, v]) => Number.isFinite(v));
  if (ok.length < 2) return <span class="muted">–</span>;
  const t0 = ok[0][0];
  const t1 = ok[ok.length - 1][0];
  let lo = Infinity;
  let hi = -Infinity;
  for (const [, v] of ok) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const sx = (t: number) => ((t - t0) / (t1 - t0 || 1)) * (width - 2) + 1;
  const sy = (v: number) => height - 1 - ((v - lo) / (hi - lo || 1)) * (height - 2);
  const d = ok.map(([t, v]) => `${sx(t).toFixed(1)},${sy(v).toFixed(1)}`).join(' ');
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`from ${fmtNum(ok[0][1])} to ${fmtNum(ok[ok.length - 1][1])}`}>
      <polyline points={d} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}
