/**
 * Shadow rules (`shadow: true`, src/engine/backtest-shadow.ts) over HTTP and /metrics:
 *   GET /api/v1/shadow   each shadow rule's would-have-paged volume next to what live sent   (read)
 * The runner starts with the app and closes with it; it costs nothing while no rule is in shadow.
 */
import type { FastifyInstance } from 'fastify';
import { Gauge } from 'prom-client';
import { ShadowRunner } from '../engine/backtest-shadow.ts';
import type { ApiContext } from './app.ts';

export function registerShadowRoutes(app: FastifyInstance, ctx: ApiContext): ShadowRunner {
  const runner = new ShadowRunner(ctx.engine);
  app.addHook('onClose', async () => runner.close());

  app.get('/api/v1/shadow', { config: { role: 'read' } }, async (req) => ({ status: 'success', data: await runner.report(req.token!.tenant) }));

  const registers = [ctx.metrics.registry];
  for (const [name, key, help] of [
    ['tidemark_shadow_would_page_total', 'wouldPage', 'Pages a shadow rule would have sent since start (compare tidemark_notifications_dispatched_total of live), by tenant and rule.'],
    ['tidemark_shadow_notifications_total', 'notifications', 'Notifications a shadow rule would have sent since start, by tenant and rule.'],
  ] as const) {
    new Gauge({
      name, help, labelNames: ['tenant', 'rule'], registers,
      collect() {
        this.reset();
        for (const [k, c] of runner.counts()) this.set({ tenant: k.split('\u0000')[0], rule: c.rule }, c[key]);
      },
    });
  }
  return runner;
}
