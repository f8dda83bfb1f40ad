/**
 * Drives the demo scenario through the server's own HTTP routes (backfill, samples, changes),
 * so it exercises the same ingest path as a real sender. History is backfilled first so the
 * baselines are learned; then the last `leadMs` before "now" plays live at `speed`x (one
 * simulated minute per 60/speed seconds) and the demo continues in real time after that.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/index.ts';
import type { TriagePacket } from '../explain/packet.ts';
import { hashToken, newTokenSecret, type Alert, type Store } from '../store/index.ts';
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
  /**
   * The origin the server listens on (`http://127.0.0.1:PORT`): the demo config's webhook
   * receiver points there (see registerDemoReceiver). Default: the config's own 127.0.0.1:9464.
   */
  readonly origin?: string;
}

/** The demo tenant's config, stored as its first version when it has none. */
export const DEMO_CONFIG_PATH = new URL('./demo-config.yaml', import.meta.url).pathname;
const CONFIG_ORIGIN = 'http://127.0.0.1:9464';

/**
 * Where the demo config's receiver delivers: a route on the server itself that only counts, so
 * notifications run the real pipeline without anything leaving the machine. No token: the
 * notifier sends none, and the route reads nothing but the request's arrival.
 */
export function registerDemoReceiver(app: FastifyInstance): { received: () => number } {
  let n = 0;
  app.post('/demo/webhook', async (_req, reply) => {
    n++;
    return reply.code(204).send();
  });
  return { received: () => n };
}

/** The demo config for `tenant`, its receiver pointed at `origin`. */
export function demoConfigYaml(tenant: string, origin = CONFIG_ORIGIN): string {
  return readFileSync(DEMO_CONFIG_PATH, 'utf8').replace(/^tenant: .*$/m, `tenant: ${tenant}`).replaceAll(CONFIG_ORIGIN, origin);
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
    // Before the backfill, so the rules' aggregates and gates learn from the history too. A
    // tenant that already has a config (an earlier demo, or --config) keeps it.
    if (!(await o.store.config.latest(tenant))) {
      const r = await o.engine.putConfig(demoConfigYaml(tenant, o.origin), 'demo', 'the built-in demo scenario', DEMO_CONFIG_PATH);
      log(`demo: stored the demo config (${DEMO_CONFIG_PATH}) as version ${r.version.version} of tenant ${tenant}: latency and error rules for auth, inventory and order; auth latency pages (S2) once p99 passes 250 ms`);
    }
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
    await reportAlerts(t);
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

  // Per alert episode: whether its firing and its triage packet were printed.
  const told = new Map<string, { severity: string; packet: boolean }>();
  const ALERT_ONLY = new Set(['tenant', 'rule', 'metric', 'severity', 'owner', 'team']);
  async function reportAlerts(t: number): Promise<void> {
    await o.engine.alerting?.settled();
    for (const a of await o.store.alerts.list({ tenant, states: ['firing'], order: 'severity', limit: 20 })) {
      const key = `${a.fingerprint}@${a.startsAt}`;
      const seen = told.get(key) ?? { severity: '', packet: false };
      told.set(key, seen);
      // Printed again when it escalates: S1 (held by the impact gate) becoming a page is news.
      if (seen.severity !== a.severity) {
        const again = seen.severity !== '';
        seen.severity = a.severity;
        const held = (a.packet as { heldReason?: string } | null)?.heldReason;
        log(`demo: ${iso(t)} ALERT ${again ? 'ESCALATED to' : 'FIRING'} ${a.severity} ${a.labels.rule ?? ''} ${a.metric}{${Object.entries(a.labels).filter(([k]) => !ALERT_ONLY.has(k)).map(([k, v]) => `${k}="${v}"`).join(',')}} score ${a.score.toFixed(2)}, owner ${a.owner ?? '-'}, runbook ${a.runbook ?? '-'}` +
          (held ? ` (${held})` : ''));
      }
      const p = packetOf(a);
      if (!seen.packet && p) {
        seen.packet = true;
        const top = p.where.segments.find((g) => g.suspect) ?? p.where.segments[0];
        const change = p.why.changes.find((c) => c.suspect) ?? p.why.changes[0];
        log(`demo:   triage: ${top ? `top contributor ${top.text} (${Math.round(top.share * 100)}% of the change)` : p.where.verdict}` +
          (change ? `; likely cause: ${change.kind} ${change.service} "${change.text}" ${Math.round(-change.offsetMs / 60_000)} min before the onset` : '; no correlated change') +
          (p.impact.text ? `; impact: ${p.impact.text}` : ''));
      }
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

/** The triage packet the engine stores on the alert (`packet.triage`) once it is built. */
export function packetOf(a: Alert): TriagePacket | undefined {
  const p = (a.packet as { triage?: Partial<TriagePacket> } | null)?.triage;
  return p && p.where && p.why ? (p as TriagePacket) : undefined;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace('.000Z', 'Z');
}
