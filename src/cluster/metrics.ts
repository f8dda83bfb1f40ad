/**
 * A worker's `GET /metrics` (`tidemark worker --metrics HOST:PORT`): the engine's figures as
 * `serve` exports them (src/api/metrics.ts), including the delivery fence and notification
 * intents, which only workers move. A plain node:http server: a worker serves no API.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerNotifierMetrics, ServiceMetrics } from '../api/metrics.ts';
import type { ClusterWorker } from './worker.ts';

export interface MetricsServer {
  /** `http://host:port` it listens on. */
  readonly url: string;
  readonly metrics: ServiceMetrics;
  close(): Promise<void>;
}

/**
 * Serves the worker's metrics on `host:port` (0: any free port).
 * @example const m = await serveWorkerMetrics(worker, '127.0.0.1', 9465); ...; await m.close();
 */
export async function serveWorkerMetrics(worker: ClusterWorker, host: string, port: number, clock: () => number = Date.now): Promise<MetricsServer> {
  const metrics = new ServiceMetrics(worker.engine, clock, clock());
  const al = worker.engine.alerting;
  // The notifier's counters, as `serve` exports them with its alert routes.
  if (al) registerNotifierMetrics([metrics.registry], al.notifier.counters);
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    metrics,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
