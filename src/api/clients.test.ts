// Real clients against a Tidemark listening on 127.0.0.1: Debian's Prometheus scraping a target
// and remote_writing, the OpenTelemetry SDK over OTLP/HTTP (JSON and protobuf), the InfluxDB
// client's line protocol (as Telegraf writes it), and the JSON batch.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { OTLPMetricExporter as OtlpJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { openTestService, type TestService } from './testkit.ts';

let svc: TestService;
let base: string;
before(async () => {
  svc = await openTestService();
  await svc.app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
});
after(async () => svc.close());

const token = () => svc.tokens.default.write;

async function seriesNames(re: string): Promise<string[]> {
  const res = await fetch(`${base}/api/v1/label/__name__/values?match[]=${encodeURIComponent(`{__name__=~"${re}"}`)}`, { headers: { authorization: `Bearer ${svc.tokens.default.read}` } });
  const body = (await res.json()) as { data: string[] };
  return body.data.filter((n) => !n.startsWith('tidemark_'));
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe('real clients', () => {
  const hasPrometheus = spawnSync('prometheus', ['--version']).status === 0;
  const required = process.env.TIDEMARK_REQUIRE_SERVICES === '1';
  if (!hasPrometheus && !required) process.stdout.write('# NOTICE: the prometheus binary is absent; skipping the Prometheus remote_write test (set TIDEMARK_REQUIRE_SERVICES=1 to fail instead)\n');

  it('Prometheus scrapes a target and remote_writes it to Tidemark', { skip: !hasPrometheus && !required, timeout: 20_000 }, async () => {
    assert.ok(hasPrometheus, 'TIDEMARK_REQUIRE_SERVICES=1 but the prometheus binary is absent');
    let hits = 0;
    const target: Server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end(`# TYPE shop_orders_total counter\nshop_orders_total{region="eu"} ${100 + hits}\n# TYPE shop_queue_depth gauge\nshop_queue_depth ${hits % 7}\n`);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-prom-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(config, `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: shop
    static_configs:
      - targets: ['127.0.0.1:${(target.address() as AddressInfo).port}']
remote_write:
  - url: ${base}/api/v1/write
    authorization:
      credentials: ${token()}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
`);
    const port = await freePort();
    const prom = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    prom.stderr!.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-4000)));
    try {
      const names = await waitFor('the scraped series in Tidemark', 15_000, async () => {
        const n = await seriesNames('shop_.*|up');
        return n.includes('shop_orders_total') && n.includes('shop_queue_depth') && n.includes('up') ? n : undefined;
      }).catch((err) => {
        throw new Error(`${(err as Error).message}\nprometheus log:\n${log}`);
      });
      assert.ok(names.includes('shop_orders_total'));
      const res = await fetch(`${base}/api/v1/series?match[]=shop_orders_total`, { headers: { authorization: `Bearer ${svc.tokens.default.read}` } });
      const body = (await res.json()) as { data: Record<string, string>[] };
      assert.equal(body.data[0].job, 'shop');
      assert.equal(body.data[0].region, 'eu');
    } finally {
      prom.kill('SIGTERM');
      await new Promise((r) => prom.once('exit', r));
      target.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const otlp: { name: string; exporter: () => PushMetricExporter; prefix: string }[] = [
    { name: 'JSON', prefix: 'otj', exporter: () => new OtlpJsonExporter({ url: `${base}/v1/metrics`, headers: { Authorization: `Bearer ${token()}` } }) },
    { name: 'protobuf', prefix: 'otp', exporter: () => new OtlpProtoExporter({ url: `${base}/v1/metrics`, headers: { Authorization: `Bearer ${token()}` } }) },
  ];
  for (const c of otlp) {
    it(`the OpenTelemetry SDK exports a counter, a gauge and a histogram over OTLP/HTTP ${c.name}`, { timeout: 15_000 }, async () => {
      const reader = new PeriodicExportingMetricReader({ exporter: c.exporter(), exportIntervalMillis: 60_000 });
      const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'checkout' }), readers: [reader] });
      const meter = provider.getMeter('tidemark-test');
      const counter = meter.createCounter(`${c.prefix}.orders`, { unit: '1' });
      const gauge = meter.createGauge(`${c.prefix}.queue.depth`);
      const hist = meter.createHistogram(`${c.prefix}.latency`, { unit: 'ms' });
      counter.add(3, { region: 'eu' });
      gauge.record(12, { region: 'eu' });
      for (const v of [5, 12, 40, 80, 300]) hist.record(v, { region: 'eu' });
      await provider.forceFlush();
      await provider.shutdown();
      const names = await seriesNames(`${c.prefix}_.*`);
      for (const n of [`${c.prefix}_orders`, `${c.prefix}_queue_depth`, `${c.prefix}_latency_count`, `${c.prefix}_latency_sum`, `${c.prefix}_latency_p99`]) {
        assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
      }
    });
  }

  it('the InfluxDB client writes line protocol as Telegraf does', async () => {
    const writeApi = new InfluxDB({ url: base, token: token() }).getWriteApi('org', 'bucket', 'ms', { maxRetries: 0 });
    const t = Date.now();
    writeApi.writePoint(new Point('disk').tag('host', 'web-1').tag('path', '/var').floatField('used_percent', 71.5).intField('inodes_free', 123456).timestamp(t));
    writeApi.writePoint(new Point('net').tag('host', 'web-1').uintField('bytes_recv', 987654321).booleanField('up', true).timestamp(t));
    await writeApi.close();
    const names = await seriesNames('disk_.*|net_.*');
    assert.deepEqual(names.sort(), ['disk_inodes_free', 'disk_used_percent', 'net_bytes_recv', 'net_up']);
  });

  it('a script posts the JSON batch', async () => {
    const res = await fetch(`${base}/api/v1/samples`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ samples: [{ metric: 'http_requests_total', labels: { service: 'auth' }, t: Date.now(), value: 12 }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { accepted: number }).accepted, 1);
  });
});
