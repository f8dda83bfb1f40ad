/**
 * The built-in demo scenario: an e-commerce platform's auth, inventory and order services in
 * two regions, with daily and weekly seasonality. At `deployAt` the auth service goes from
 * v2.3.0 to v2.4.0, and from then on its latency slowly degrades (about 2.5% a minute) and its
 * errors creep up, so a newcomer sees the early warning (rising scores), the anomaly and the
 * correlated deploy within minutes. Pure functions of time: deterministic and replayable.
 */

export const SERVICES = ['auth', 'inventory', 'order'] as const;
export const REGIONS = ['eu-west', 'us-east'] as const;
export const DEMO_STEP_MS = 60_000; // one point a minute per series

const BASE_RPS: Record<string, number> = { auth: 220, inventory: 140, order: 60 };
const BASE_P50_MS: Record<string, number> = { auth: 38, inventory: 22, order: 75 };
const REGION_SHARE: Record<string, number> = { 'eu-west': 0.6, 'us-east': 0.4 };

export interface DemoPoint {
  metric: string;
  labels: Record<string, string>;
  t: number;
  value: number;
}

/** Deterministic noise in [-1, 1) from integers (no state, so any time can be computed). */
function noise(a: number, b: number): number {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  return (h / 2 ** 32) * 2 - 1;
}

/** Daily wave (peak mid-afternoon UTC) times a weekly one (weekends at 70%). */
function load(t: number): number {
  const hour = (t / 3600_000) % 24;
  const daily = 1 + 0.45 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
  const dow = new Date(t).getUTCDay();
  return daily * (dow === 0 || dow === 6 ? 0.7 : 1);
}

export interface Scenario {
  /** When the auth service is deployed (ms). */
  readonly deployAt: number;
  /** Counter totals carried from one minute to the next, by series key. */
  readonly counters: Map<string, number>;
}

export function newScenario(deployAt: number): Scenario {
  return { deployAt, counters: new Map() };
}

/** Every series' point at minute `t` (a multiple of DEMO_STEP_MS). Counters advance in `s`. */
export function pointsAt(s: Scenario, t: number): DemoPoint[] {
  const out: DemoPoint[] = [];
  const minute = Math.floor(t / DEMO_STEP_MS);
  const degraded = Math.max(0, (t - s.deployAt) / 60_000); // minutes since the deploy
  SERVICES.forEach((service, si) => {
    REGIONS.forEach((region, ri) => {
      const id = si * 8 + ri;
      const labels = { service, region };
      const rps = BASE_RPS[service] * REGION_SHARE[region] * load(t) * (1 + 0.04 * noise(minute, id));
      // Latency rises a little with load; after the deploy auth degrades slowly.
      const slow = service === 'auth' && t >= s.deployAt ? 1 + 0.025 * degraded : 1;
      const p50 = BASE_P50_MS[service] * (0.9 + 0.2 * load(t)) * (1 + 0.03 * noise(minute, id + 100)) * slow;
      out.push({ metric: 'http_requests_per_second', labels, t, value: round(rps, 2) });
      out.push({ metric: 'http_request_duration_ms_p50', labels, t, value: round(p50, 2) });
      out.push({ metric: 'http_request_duration_ms_p95', labels, t, value: round(p50 * 2.3 * (1 + 0.05 * noise(minute, id + 200)) * slow, 2) });
      out.push({ metric: 'http_request_duration_ms_p99', labels, t, value: round(p50 * 4.1 * (1 + 0.08 * noise(minute, id + 300)) * slow, 2) });
      // Errors by app version: the deploy moves traffic to the new version, which errs more.
      const version = service === 'auth' && t >= s.deployAt ? 'v2.4.0' : service === 'auth' ? 'v2.3.0' : 'v1.8.2';
      const rate = 0.002 * (service === 'auth' && t >= s.deployAt ? 1 + 0.15 * degraded : 1);
      const key = `${service}/${region}/${version}`;
      const total = (s.counters.get(key) ?? 0) + Math.round(rps * 60 * rate * (1 + 0.3 * noise(minute, id + 400)));
      s.counters.set(key, total);
      out.push({ metric: 'http_errors_total', labels: { service, region, version }, t, value: total });
    });
  });
  return out;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
