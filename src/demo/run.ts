/**
 * Drives the demo scenario through the server's own HTTP routes (backfill, samples, changes),
 * so it exercises the same ingest path as a real sender. History is backfilled first so the
 * baselines are learned; then the last `leadMs` before "now" plays live at `speed`x (one
 * simulated minute per 60/speed seconds) and the demo continues in real time after that.
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/index.ts';
import { hashToken, newTokenSecret, type Store } from '../store/index.ts';
import { DEMO_STEP_MS, newScenario, pointsAt, type DemoPoint } from './scenario.ts';

export interface DemoOptions {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly engine: Engine;
  readonly clock: () => number;
  readonly tenant?: string;
  /** Days of history backfilled before the live part. */
  readonly days?: number;
  /** How far before now the live part starts (ms); the deploy happens 10 minutes into it. */
  readonly leadMs?: number;
  /** Simulated minutes per wall minute while catching up with the clock. */
  readonly speed?: number;
  readonly log?: (line: string) => void;
}

export interface DemoHandle {
  /** Resolves when the backfill is done (the server is then worth looking at). */
  readonly backfilled: Promise<void>;
  stop(): void;
}

const DEPLOY_AFTER_MS = 10 * 60_000;

/** Starts the demo; it runs until `stop()`. */
export function startDemo(o: DemoOptions): DemoHandle {
  const tenant = o.tenant ?? 'default';
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const days = o.days ?? 4;
  const lead = o.leadMs ?? 40 * 60_000;
  const speed = o.speed ?? 60;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const secret = newTokenSecret();

  const post = async (url: string, body: unknown) => {
    const res = await o.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    if (res.statusCode >= 300) throw new Error(`demo: ${url} answered ${res.statusCode}: ${res.body.slice(0, 300)}`);
    return res.json() as Record<string, unknown>;
  };
  const batch = (points: DemoPoint[]) => ({ samples: points.map((p) => ({ metric: p.metric, labels: p.labels, t: p.t, value: p.value })) });

  const backfilled = (async () => {
    await o.store.tokens.create({ tenant, name: `demo-${Date.now()}`, role: 'write', hash: hashToken(secret) });
    const start = Math.floor((o.clock() - lead) / DEMO_STEP_MS) * DEMO_STEP_MS;
    const scenario = newScenario(start + DEPLOY_AFTER_MS);
    let t = start - days * 86400_000;
    let total = 0;
    while (t < start && !stopped) {
      const chunk: DemoPoint[] = [];
      const end = Math.min(start, t + 6 * 3600_000);
      for (; t < end; t += DEMO_STEP_MS) chunk.push(...pointsAt(scenario, t));
      const r = await post('/api/v1/backfill', batch(chunk));
      total += r.accepted as number;
    }
    log(`demo: backfilled ${days} days of history (${total.toLocaleString('en-US')} samples) for auth, inventory and order in eu-west and us-east`);
    log(`demo: playing the last ${Math.round(lead / 60_000)} minutes at ${speed}x; auth v2.4.0 deploys ${DEPLOY_AFTER_MS / 60_000} simulated minutes in, then its latency slowly degrades`);
    return { scenario, start };
  })();

  const seen = new Set<string>();
  let warned = false;
  async function step(scenario: ReturnType<typeof newScenario>, t: number): Promise<void> {
    if (t >= scenario.deployAt && t - DEMO_STEP_MS < scenario.deployAt) {
      await post('/api/v1/changes', { kind: 'deploy', service: 'auth', t: scenario.deployAt, text: 'auth v2.3.0 -> v2.4.0 (new session cache)', labels: { version: 'v2.4.0' }, author: 'ci-bot', id: `demo-deploy-${scenario.deployAt}` });
      log(`demo: ${iso(scenario.deployAt)} change event: deploy auth v2.3.0 -> v2.4.0`);
    }
    await post('/api/v1/samples', batch(pointsAt(scenario, t)));
    // Early warning: an auth latency score rising before any point crosses the alert threshold.
    if (!warned && t > scenario.deployAt) {
      for (const metric of ['http_request_duration_ms_p50', 'http_request_duration_ms_p95', 'http_request_duration_ms_p99']) {
        for (const region of ['eu-west', 'us-east']) {
          const id = o.engine.seriesInfo(tenant, `${metric}{region="${region}",service="auth"}`)?.id;
          if (id === undefined || warned) continue;
          const b = await o.store.samples.bands(tenant, id, t, t + 1);
          if (b.score[0] >= 0.5) {
            warned = true;
            log(`demo: ${iso(t)} early warning: auth ${metric} (${region}) is drifting up: score ${b.score[0].toFixed(2)}, value above the usual ${b.expected[0].toFixed(1)} ms, ${Math.round((t - scenario.deployAt) / 60_000)} min after the deploy`);
          }
        }
      }
    }
    for (const a of o.engine.anomalies(tenant, t - 10 * DEMO_STEP_MS, t + 1, 50).reverse()) {
      const key = `${a.seriesId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const changes = await o.store.changes.list({ tenant, from: a.t - 3600_000, to: a.t + 1, services: [a.labels.service ?? ''] });
      const c = changes.at(-1);
      log(`demo: ${iso(a.t)} ANOMALY ${a.metric}{${Object.entries(a.labels).map(([k, v]) => `${k}="${v}"`).join(',')}} = ${a.value} (expected ${a.expected.toFixed(1)}, band ${a.lower.toFixed(1)}..${a.upper.toFixed(1)}, score ${a.score.toFixed(2)}, ${[...new Set(a.reasons)].join(', ')})` +
        (c ? `; correlated change ${Math.round((a.t - c.t) / 60_000)} min before: ${c.kind} ${c.service} "${c.text}"` : ''));
    }
  }

  void backfilled
    .then(({ scenario, start }) => {
      let t = start;
      const tick = async () => {
        if (stopped) return;
        try {
          while (t <= o.clock() && !stopped) {
            await step(scenario, t);
            t += DEMO_STEP_MS;
            // Accelerated while behind the clock: one simulated minute per 60/speed s.
            if (t <= o.clock()) {
              timer = setTimeout(() => void tick(), 60_000 / speed);
              return;
            }
          }
          timer = setTimeout(() => void tick(), Math.max(100, t - o.clock()));
        } catch (err) {
          if (!stopped) log(`demo: stopped: ${(err as Error).message}`);
        }
      };
      void tick();
    })
    .catch((err) => {
      if (!stopped) log(`demo: stopped: ${(err as Error).message}`);
    });

  return {
    backfilled: backfilled.then(() => undefined),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}
