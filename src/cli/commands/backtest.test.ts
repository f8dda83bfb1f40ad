import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BacktestResult } from '../../engine/backtest.ts';
import { TidemarkError } from '../../errors.ts';
import { openSqliteStore } from '../../store/index.ts';
import { backtestCommand } from './backtest.ts';

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const o = process.stdout.write;
  // Only text is captured: node:test itself reports through stdout with binary frames.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? out.push(s) > 0 : o.call(process.stdout, s, ...rest))) as typeof process.stdout.write;
  try {
    return { code: await backtestCommand.run(argv), out: out.join('') };
  } finally {
    process.stdout.write = o;
  }
}

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5);
const END = T0 + 2 * 1440 * MIN;
let dir: string;

const config = (above: number) => `
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu use, labels: [service] }
receivers:
  - name: chat
    webhook: { url: 'http://127.0.0.1:9/hook' }
route:
  receiver: chat
rules:
  - name: cpu-high
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: ${above} } }]
    severity: S1
    owner: team-a
    timing: { for: 5m, group_wait: 30s }
`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tm-backtest-cli-'));
  const store = await openSqliteStore({ dataDir: join(dir, 'data') });
  await store.tenants.create({ id: 'default', name: 'default' });
  const ids = await store.series.intern([{ tenant: 'default', metric: 'cpu', labels: { service: 'a' } }, { tenant: 'default', metric: 'cpu', labels: { service: 'b' } }]);
  // Two days of one-minute points at 10; service a runs at 90 for 30 minutes each day at noon.
  for (const [k, id] of ids.entries()) {
    const n = 2 * 1440;
    const t = Float64Array.from({ length: n }, (_, i) => T0 + i * MIN);
    const v = t.map((_, i) => (k === 0 && i % 1440 >= 720 && i % 1440 < 750 ? 90 : 10));
    await store.samples.append({ seriesId: new Float64Array(n).fill(id), t, v });
  }
  await store.config.put({ tenant: 'default', yaml: config(50), author: 'test', at: T0, comment: null });
  await store.close();
  writeFileSync(join(dir, 'strict.yaml'), config(5));
  writeFileSync(join(dir, 'bad.yaml'), 'tenant: default\nrules: [{ name: x }]\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('backtest CLI: the current config, per day, and the alerts', async () => {
  const { code, out } = await run(['--data', join(dir, 'data'), '--from', new Date(T0).toISOString(), '--to', String(END), '--warmup', '0']);
  assert.equal(code, 0);
  assert.match(out, /config v1, 2026-01-05T00:00:00Z to 2026-01-07T00:00:00Z/);
  assert.match(out, /Would have produced 2 alerts, 0 pages, 2 notifications/);
  assert.match(out, /2026-01-05 +1 +0 +1 +0 +0 +0 +1/);
  assert.match(out, /2026-01-06T12:05:00Z +S1 +resolved +no +cpu\{service="a"/);
});

test('backtest CLI: an edited config and a selector, as JSON', async () => {
  const { code, out } = await run(['--data', join(dir, 'data'), '--config', join(dir, 'strict.yaml'), '--selector', '{service="b"}', '--from', String(T0), '--to', String(END), '--warmup', '0', '--json']);
  assert.equal(code, 0);
  const r = JSON.parse(out) as BacktestResult;
  assert.equal(r.draft, true);
  assert.equal(r.configVersion, 2);
  assert.equal(r.series, 1);
  assert.equal(r.totals.alerts, 1, 'b sits at 10, over 5, from the start and never clears');
  assert.equal(r.alerts[0].labels.service, 'b');
  assert.equal(r.alerts[0].state, 'firing');
});

test('backtest CLI: mistakes are usage errors naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--from', String(T0)], /--data is required/],
    [['--data', join(dir, 'nope')], /has no tidemark\.db/],
    [['--data', join(dir, 'data'), '--from', 'yesterday'], /--from must be an RFC 3339 time/],
    [['--data', join(dir, 'data'), '--selector', 'cpu{'], /--selector: cannot parse/],
    [['--data', join(dir, 'data'), '--config-version', '9', '--from', String(T0), '--to', String(END)], /--config-version: no config version 9/],
    [['--data', join(dir, 'data'), '--from', String(END), '--to', String(T0)], /--to: to must be after from/],
  ];
  for (const [argv, re] of cases) await assert.rejects(run(argv), (err: TidemarkError) => (assert.equal(err.code, 'TM_ERR_USAGE'), assert.match(err.message, re), true), re.source);
  await assert.rejects(run(['--data', join(dir, 'data'), '--config', join(dir, 'bad.yaml')]), (err: TidemarkError) => err.code === 'TM_ERR_CONFIG' && /rules\[0\]\.selector/.test(err.message));
});
