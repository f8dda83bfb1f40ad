/**
 * The alerts list with 10,000 alerts in the store (issue 6, "Fast"): GET /api/v1/alerts as the
 * UI first read it (full alerts with their packets), then (every alert, summary view), and as it
 * reads it now (one page of 200 in the triage order with the counts), interleaved, medians of 9. Packets are shaped like the stage's, with a triage packet.
 */
import { openTestService } from './testkit.ts';

const N = 10_000;
const RUNS = 9;

export async function runAlertsListBench(): Promise<object> {
  const now = Date.now();
  const svc = await openTestService({ engine: { alerting: false } });
  const sevs = ['S0', 'S1', 'S2', 'S3'] as const;
  const triage = {
    summary: ['latency p95 of checkout up 3.1x since 14:02', 'app_version=2.3.1 carries 94% of the delta', 'deploy checkout v2.3.1 at 13:58 (4 min before)'],
    where: { verdict: 'app_version=2.3.1', segments: Array.from({ length: 5 }, (_, i) => ({ text: `pod=p-${i}`, share: 0.2, delta: 12.5 })) },
    why: { verdict: 'a deploy 4 min before', changes: [{ kind: 'deploy', text: 'checkout v2.3.1', evidence: 'same service, 4 min before onset', score: 0.91 }] },
  };
  try {
    for (let i = 0; i < N; i++) {
      await svc.store.alerts.upsert({
        tenant: 'default', fingerprint: `f${i.toString(16).padStart(15, '0')}`, metric: `load_metric_${i % 50}`,
        labels: { service: `svc-${i % 40}`, region: `r${i % 6}`, severity: sevs[i % 4], rule: 'load', tenant: 'default', metric: `load_metric_${i % 50}` },
        seriesId: i + 1, state: i % 5 === 0 ? 'resolved' : 'firing', severity: sevs[i % 4], startsAt: now - i * 1000, at: now, score: 0.9, reasons: ['above_band'], owner: `team-${i % 9}`, runbook: 'https://runbooks.example.com/load',
        packet: {
          kind: 'tidemark.alert/v1', rule: 'load', value: 180.5, expected: 120.5, lower: 105.5, upper: 135.5, detectors: [{ name: 'robust_z', reason: 'above_band' }, { name: 'ewma', reason: 'above_band' }],
          heldReason: null, impact: 'SLO burn rate 16.2x over 1h and 5m', firingAt: now - i * 1000, crossedAt: now - i * 1000 - 60_000,
          suppressions: i % 7 === 0 ? [{ kind: 'budget', at: now, reason: 'tenant page budget 10/h spent' }] : [],
          events: Array.from({ length: 4 }, (_, k) => ({ at: now - k * 60_000, kind: 'severity', text: `severity S${k % 4} after the impact gate` })),
          triage,
        },
      });
    }
    const headers = { authorization: `Bearer ${svc.tokens.default.read}` };
    const times: Record<'full' | 'summary' | 'page', number[]> = { full: [], summary: [], page: [] };
    const bytes = { full: 0, summary: 0, page: 0 };
    for (let k = 0; k < RUNS; k++) {
      for (const view of ['full', 'summary', 'page'] as const) {
        const url = view === 'page' ? '/api/v1/alerts?limit=200&view=summary&sort=severity&state=pending,firing&counts=1' : `/api/v1/alerts?limit=${N}${view === 'summary' ? '&view=summary' : ''}`;
        const t0 = performance.now();
        const r = await svc.app.inject({ method: 'GET', url, headers });
        // The browser parses what it receives: count that too.
        const doc = JSON.parse(r.body) as { data: unknown[]; total?: number };
        times[view].push(performance.now() - t0);
        bytes[view] = r.body.length;
        const want = view === 'page' ? 200 : N;
        if (doc.data.length !== want) throw new Error(`expected ${want} alerts, got ${doc.data.length}`);
        if (view === 'page' && doc.total !== N - N / 5) throw new Error(`expected a total of ${N - N / 5} open alerts, got ${doc.total}`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const full = median(times.full);
    const summary = median(times.summary);
    const page = median(times.page);
    console.log(
      `alerts list, ${N} alerts: full ${full.toFixed(0)} ms (${(bytes.full / 1e6).toFixed(1)} MB), summary ${summary.toFixed(0)} ms (${(bytes.summary / 1e6).toFixed(1)} MB), ` +
        `page of 200 + counts ${page.toFixed(1)} ms (${(bytes.page / 1e3).toFixed(0)} kB), medians of ${RUNS}`,
    );
    return {
      name: 'api.alerts_list', alerts: N, full_ms: Math.round(full), summary_ms: Math.round(summary), page_ms: +page.toFixed(1),
      full_mb: +(bytes.full / 1e6).toFixed(2), summary_mb: +(bytes.summary / 1e6).toFixed(2), page_kb: Math.round(bytes.page / 1e3),
      summary_full_ratio: +(summary / full).toFixed(3), page_full_ratio: +(page / full).toFixed(4),
    };
  } finally {
    await svc.close();
  }
}
