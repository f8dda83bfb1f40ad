// The triage UI in a real browser: playwright-core drives Debian's Chromium against a server this
// test starts (the API app plus registerWeb over a fresh Vite build) with seeded series, alerts
// and changes. Screenshots of every page go to the test's output folder (printed).
// Without /usr/bin/chromium the suite is skipped with a notice, unless TIDEMARK_REQUIRE_SERVICES=1.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { addToken, openTestService, type TestService } from '../api/testkit.ts';
import type { TriagePacket } from '../explain/index.ts';
import type { AlertInput } from '../store/index.ts';
import { fmtShare } from './ui/format.ts';
import { registerWeb } from './serve.ts';

// Callbacks given to page.evaluate run in the browser. The root tsconfig has no DOM lib (and
// should not get one for this file), so they see these loosely typed stand-ins.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any, window: any, sessionStorage: any, localStorage: any, getComputedStyle: any;
type HTMLCanvasElement = any;

const CHROMIUM = process.env.TIDEMARK_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.TIDEMARK_REQUIRE_SERVICES === '1';
const HAVE = existsSync(CHROMIUM);
if (!HAVE) {
  if (REQUIRED) throw new Error(`TIDEMARK_REQUIRE_SERVICES=1 but there is no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  console.log(`# NOTICE: skipping the browser tests of the web UI: no Chromium at ${CHROMIUM} (apt-get install chromium, or set TIDEMARK_CHROMIUM)`);
}

const MIN = 60_000;
const DAY = 86_400_000;
const T = Math.floor(Date.now() / MIN) * MIN; // seeded points end one minute before this
const SERIES = { service: 'checkout', region: 'eu-west-1' };
const METRIC = 'checkout_latency_ms';
const INCIDENT_MIN = 30; // the last 30 points sit 60 above a ±15 band
const XSS_SCRIPT = '<script>window.__xss = 1</script>';
const XSS_IMG = '<img src=x onerror="window.__xss = 2">';

const BACKTEST_YAML = `tenant: default
metrics:
  - { name: ${METRIC}, type: gauge, unit: ms, help: checkout latency, labels: [service, region, app_version, pod] }
receivers:
  - name: chat
    webhook: { url: 'http://127.0.0.1:9/hook' }
route:
  receiver: chat
rules:
  - name: checkout-latency
    selector: ${METRIC}
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 135 } }]
    severity: S1
    owner: team-payments
    timing: { for: 5m }
`;

const A1 = 'a1a1a1a1a1a1a1a1';
const XSS = 'b2b2b2b2b2b2b2b2';
const SUPPRESSED = 'c3c3c3c3c3c3c3c3';
const RESOLVED = 'd4d4d4d4d4d4d4d4';
const PENDING = 'e5e5e5e5e5e5e5e5';

const expectedAt = (t: number) => 100 + 20 * Math.sin((2 * Math.PI * (t % DAY)) / DAY);
const noiseAt = (t: number) => ((Math.floor(t / MIN) * 7919) % 7) - 3; // -3..3, deterministic

let svc: TestService;
let base = '';
let out = '';
let shots = '';
let browser: Browser;
let write = '';

async function seed(): Promise<void> {
  const [id] = await svc.store.series.intern([{ tenant: 'default', metric: METRIC, labels: SERIES }]);
  const n = 8 * 24 * 60;
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = T - (n - i) * MIN;
    e[i] = expectedAt(t[i]);
    v[i] = e[i] + noiseAt(t[i]) + (i >= n - INCIDENT_MIN ? 60 : 0);
  }
  const ids = new Float64Array(n).fill(id);
  await svc.store.samples.append({ seriesId: ids, t, v });
  await svc.store.samples.appendBands({ seriesId: ids, t, expected: e, lower: e.map((x) => x - 15), upper: e.map((x) => x + 15), score: v.map((x, i) => (Math.abs(x - e[i]) > 15 ? 0.97 : 0.1)) });

  // Children of the alert's series by app_version and pod over the last 3 h: the four pods of
  // 2.3.1 carry the incident, so the packet's drill-down names app_version=2.3.1.
  const combos = ['2.2.9', '2.3.0', '2.3.1'].flatMap((ver) => ['a', 'b', 'c', 'd'].map((pod) => ({ app_version: ver, pod })));
  const kids = await svc.store.series.intern(combos.map((c) => ({ tenant: 'default', metric: METRIC, labels: { ...SERIES, ...c } })));
  const k = 3 * 60;
  for (const [j, kid] of kids.entries()) {
    const kt = Float64Array.from({ length: k }, (_, i) => T - (k - i) * MIN);
    const kv = kt.map((x, i) => (expectedAt(x) + noiseAt(x)) / combos.length + (combos[j].app_version === '2.3.1' && i >= k - INCIDENT_MIN ? 15 : 0));
    await svc.store.samples.append({ seriesId: new Float64Array(k).fill(kid), t: kt, v: kv });
  }

  // A second region, so a contributor's small chart can come from the query API.
  const [us] = await svc.store.series.intern([{ tenant: 'default', metric: METRIC, labels: { ...SERIES, region: 'us-east-1' } }]);
  const m = 6 * 60;
  const ut = Float64Array.from({ length: m }, (_, i) => T - (m - i) * MIN);
  await svc.store.samples.append({ seriesId: new Float64Array(m).fill(us), t: ut, v: ut.map((x) => 80 + (x % (90 * MIN)) / MIN) });

  await svc.store.changes.add({ tenant: 'default', t: T - 35 * MIN, kind: 'deploy', service: 'checkout', labels: { region: 'eu-west-1' }, text: `checkout v2.3.1 ${XSS_IMG}`, author: 'ci', link: 'javascript:window.__xss=5' });
  await svc.store.changes.add({ tenant: 'default', t: T - 3 * 60 * MIN, kind: 'flag', service: 'checkout', text: 'new_pricing on for 10%' });

  const alert = (fp: string, o: Partial<AlertInput>): AlertInput => ({
    tenant: 'default', fingerprint: fp, metric: METRIC, labels: { ...SERIES, rule: 'checkout-latency', severity: 'S2', owner: 'team-payments', metric: METRIC, tenant: 'default' },
    seriesId: id, state: 'firing', severity: 'S2', startsAt: T - INCIDENT_MIN * MIN, at: T, score: 0.97, reasons: ['above_band'], owner: 'team-payments',
    runbook: 'https://runbooks.example.com/checkout-latency', configVersion: 1,
    packet: { rule: 'checkout-latency', value: 180.5, expected: 120.5, lower: 105.5, upper: 135.5, detectors: [{ name: 'robust_z', reason: 'above_band' }], impact: 'SLO burn rate 16.2x over 1h and 5m', heldReason: null, suppressions: [], events: [] },
    ...o,
  });
  await svc.store.alerts.upsert(alert(A1, {}));
  await svc.store.alerts.upsert(alert(XSS, {
    metric: 'xss_probe', seriesId: null, severity: 'S1', owner: XSS_IMG, runbook: 'javascript:window.__xss=3',
    labels: { service: XSS_SCRIPT, [XSS_IMG]: 'label-name', region: XSS_IMG, severity: 'S1', rule: 'probe' },
    packet: { suppressions: [{ kind: 'gate', at: T - MIN, reason: `held at S1: ${XSS_SCRIPT}` }], events: [{ at: T - MIN, kind: 'severity', text: XSS_IMG }], detectors: [{ name: XSS_IMG, reason: XSS_SCRIPT }] },
  }));
  await svc.store.alerts.upsert(alert(SUPPRESSED, {
    metric: 'db_connections', seriesId: null, severity: 'S1', labels: { service: 'orders', severity: 'S1', rule: 'db' }, owner: 'team-data', runbook: null,
    packet: { suppressions: [{ kind: 'silence', at: T - 5 * MIN, reason: 'silenced by 7f3a: planned db maintenance' }], events: [] },
  }));
  await svc.store.alerts.upsert(alert(RESOLVED, { metric: 'queue_depth', seriesId: null, state: 'resolved', severity: 'S1', endsAt: T - 2 * MIN, labels: { service: 'billing', severity: 'S1', rule: 'q' }, owner: 'team-billing' }));
  await svc.store.alerts.upsert(alert(PENDING, { metric: 'error_rate', seriesId: null, state: 'pending', severity: 'S3', labels: { service: 'search', severity: 'S3', rule: 'err' }, owner: 'team-search' }));
}

async function newPage(ctx: BrowserContext, token?: string): Promise<{ page: Page; errors: string[]; dialogs: string[] }> {
  const page = await ctx.newPage();
  const errors: string[] = [];
  const dialogs: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Logged-in tabs for later steps: the token goes into this tab's sessionStorage, as the login form puts it.
  if (token) await page.addInitScript((t) => sessionStorage.setItem('tidemark.token', t), token);
  return { page, errors, dialogs };
}

const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(shots, `${name}.png`), fullPage });

/** Nothing planted ran, and no planted markup became an element. */
async function assertInert(page: Page, dialogs: string[]): Promise<void> {
  const r = await page.evaluate(() => ({
    xss: (window as unknown as { __xss?: number }).__xss,
    imgs: document.querySelectorAll('img').length,
    handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
    inline: [...document.querySelectorAll('script')].filter((s) => !s.src).length,
    jsLinks: [...document.querySelectorAll('a')].filter((a) => a.href.startsWith('javascript:')).length,
  }));
  assert.deepEqual(r, { xss: undefined, imgs: 0, handlers: 0, inline: 0, jsLinks: 0 });
  assert.deepEqual(dialogs, []);
}

describe('web UI in Chromium', { skip: !HAVE, timeout: 240_000 }, () => {
  let ctx: BrowserContext;
  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'tidemark-ui-test-'));
    shots = join(out, 'screenshots');
    mkdirSync(shots);
    console.log(`# web UI test output (build and screenshots): ${out}`);
    const { build } = await import('vite');
    await build({ configFile: fileURLToPath(new URL('./vite.config.ts', import.meta.url)), logLevel: 'warn', build: { outDir: join(out, 'dist') } });
    svc = await openTestService();
    await registerWeb(svc.app, join(out, 'dist'));
    await svc.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = svc.app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    write = await addToken(svc.store, 'default', 'write', 'ci-writer');
    await seed();
    const { chromium } = await import('playwright-core');
    // launch() gives Chromium a fresh temporary --user-data-dir of its own (it refuses one in args).
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
    console.log(`# screenshots: ${shots}`);
  });

  it('logs in with a token kept in sessionStorage, never in the URL', async () => {
    const { page, errors } = await newPage(ctx);
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    await page.goto(`${base}/`);
    await page.fill('#token', 'not-a-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.flash-error');
    assert.match(await page.textContent('.flash-error') ?? '', /does not know this token/);
    await page.fill('#token', write);
    await page.click('button[type=submit]');
    await page.waitForFunction(() => /write-only/.test(document.querySelector('.flash-error')?.textContent ?? ''));
    await shot(page, '00-login');
    await page.fill('#token', svc.tokens.default.admin);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=alerts-table]');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('tidemark.token')), svc.tokens.default.admin);
    assert.equal(await page.evaluate(() => localStorage.getItem('tidemark.token')), null);
    for (const u of [...urls, page.url()]) for (const tok of [svc.tokens.default.admin, write]) assert.ok(!u.includes(tok), `token in URL ${u}`);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('alerts list: states, counts by severity, suppressed with the reason, filters, escaped labels', async () => {
    const { page, errors, dialogs } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/alerts`);
    await page.waitForSelector('[data-testid=alerts-table] tbody tr');
    const open = await page.$$eval('[data-testid=alerts-table] tbody tr', (rows) => rows.map((r) => r.getAttribute('data-fingerprint')));
    // Open alerts, worst severity first: the pending S3, then the S2, then the S1s.
    assert.deepEqual(open.slice(0, 2), [PENDING, A1]);
    assert.deepEqual([...open].sort(), [A1, XSS, SUPPRESSED, PENDING].sort());
    const count = (s: string) => page.textContent(`[data-testid=count-${s}] .sevchip-n`);
    assert.deepEqual([await count('S3'), await count('S2'), await count('S1'), await count('S0')], ['1', '1', '2', '0']);
    // The planted markup is shown as text.
    const text = await page.textContent('[data-testid=alerts-table]');
    assert.ok(text?.includes(XSS_SCRIPT) && text.includes(XSS_IMG), 'labels shown literally');
    await assertInert(page, dialogs);
    await shot(page, '01-alerts-light-1280');

    await page.click('button.tab:has-text("Suppressed")');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=alerts-table] tbody tr').length === 2);
    const held = await page.textContent(`tr[data-fingerprint="${SUPPRESSED}"] td.held`);
    assert.match(held ?? '', /silence.*planned db maintenance/);
    assert.match(page.url(), /state=suppressed/);

    await page.click('button.tab:has-text("Resolved")');
    await page.waitForSelector(`tr[data-fingerprint="${RESOLVED}"]`);
    // Each step waits for the rows its own request gives, never only for a row count: a count
    // the previous view also had (the Resolved tab's one row, the owner filter's one row) is
    // met before the new request returns, and the rows read next would be whichever came last.
    const rowsAre = (fps: string[]) =>
      page.waitForFunction(
        (want) => [...document.querySelectorAll('[data-testid=alerts-table] tbody tr')].map((r: any) => r.getAttribute('data-fingerprint')).sort().join() === want,
        [...fps].sort().join(),
      );
    const every = [A1, XSS, SUPPRESSED, RESOLVED, PENDING];
    await page.click('button.tab:has-text("All")');
    await rowsAre(every);
    await page.selectOption('select >> nth=0', 'team-payments'); // owner
    await rowsAre([A1]);
    await page.selectOption('select >> nth=0', '');
    await rowsAre(every);
    await page.fill('[data-testid=filter-text]', 'region=eu-west-1');
    await rowsAre([A1]);
    assert.match(page.url(), /q=region%3Deu-west-1/);
    await page.click('[data-testid=count-S2]');
    assert.match(page.url(), /severity=S2/);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('triage page: chart against the band with the anomaly and change markers, last week, contributors, changes, owner', async () => {
    const { page, errors, dialogs } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/alerts`);
    await page.click(`tr[data-fingerprint="${A1}"] a.alert-link`);
    await page.waitForSelector('[data-testid=chart] canvas');
    assert.match(page.url(), new RegExp(`/ui/triage/default/${A1}$`));
    const chart = await page.$eval('[data-testid=chart]', (el) => ({ points: Number(el.getAttribute('data-points')), anomalies: Number(el.getAttribute('data-anomalies')), markers: Number(el.getAttribute('data-markers')) }));
    // 6 h of 1-minute points ending a minute ago; exactly the planted 30 outside the band; the deploy and the flag.
    assert.ok(chart.points >= 357 && chart.points <= 360, `points ${chart.points}`);
    assert.equal(chart.anomalies, INCIDENT_MIN);
    assert.equal(chart.markers, 2);
    // The canvas has the anomaly colour on it (light theme: #dc2626).
    const red = await page.$eval('[data-testid=chart] canvas', (c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i] - 220) < 12 && Math.abs(d[i + 1] - 38) < 12 && Math.abs(d[i + 2] - 38) < 12 && d[i + 3] > 200) n++;
      return n;
    });
    assert.ok(red > 50, `anomaly pixels ${red}`);
    assert.match(await page.textContent('[data-testid=last-week]') ?? '', /now vs .* a week ago/);

    // Where and why, as the server's packet says them (src/explain builds it; this checks the page shows it faithfully).
    await page.waitForSelector('[data-testid=where-verdict]');
    const packet = (await svc.app.inject({ method: 'GET', url: `/api/v1/alerts/${A1}/packet`, headers: { authorization: `Bearer ${svc.tokens.default.read}` } })).json().data as TriagePacket;
    console.log(`# packet for the seeded incident: where: ${packet.where.verdict} | why: ${packet.why.verdict}`);
    assert.equal(await page.textContent('[data-testid=where-verdict]'), packet.where.verdict);
    const rows = await page.$$eval('[data-testid=contributor-row]', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1, 3).map((td) => td.textContent?.trim() ?? '')));
    assert.equal(rows.length, packet.where.segments.length);
    for (const [i, seg] of packet.where.segments.entries()) {
      assert.ok(rows[i][0].startsWith(seg.text), `${rows[i][0]} vs ${seg.text}`);
      assert.equal(rows[i][1], fmtShare(seg.share));
    }
    // The planted cause: app_version 2.3.1 carries the whole delta; its row has a small chart from the query API.
    assert.match(rows[0]?.[0] ?? '', /^app_version=2\.3\.1/);
    assert.equal(await page.$eval('[data-testid=contributor-row]', (tr) => tr.querySelector('svg.spark') !== null), true);
    const why = await page.textContent('#why');
    for (const c of packet.why.changes) assert.ok(why?.includes(c.evidence), c.evidence);
    assert.ok(packet.why.changes.length > 0 && why?.includes(XSS_IMG), 'the planted deploy, its text escaped');
    assert.equal(await page.textContent('[data-testid=owner]'), 'team-payments');
    assert.equal(await page.getAttribute('[data-testid=runbook]', 'href'), 'https://runbooks.example.com/checkout-latency');
    assert.equal((await page.textContent('[data-testid=impact]'))?.startsWith(packet.impact.text), true);
    await assertInert(page, dialogs);
    await shot(page, '02-triage-light-1280', true);

    // Same time last week over 7 days of 1-minute points.
    await page.click('#chart button.tab:has-text("7d")');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart]')?.getAttribute('data-points')) > 10_000);
    await shot(page, '03-triage-7d-light-1280');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('triage actions: acknowledge, silence with prefilled matchers, label as noise; stored', async () => {
    const { page, errors } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/triage/default/${A1}`);
    await page.waitForSelector('[data-testid=ack]');
    await page.click('[data-testid=ack]');
    await page.waitForSelector('.flash-ok:has-text("Acknowledged by default-admin")');
    assert.deepEqual((await svc.store.acks.history('default', A1)).map((a) => a.by), ['default-admin']);

    const prefill = await page.inputValue('[data-testid=silence-matchers]');
    assert.equal(prefill, '{metric="checkout_latency_ms",owner="team-payments",region="eu-west-1",rule="checkout-latency",service="checkout",tenant="default"}');
    await page.fill('[data-testid=silence-reason]', 'rolling back v2.3.1');
    await page.click('[data-testid=silence]');
    await page.waitForSelector('.flash-ok:has-text("Silence")');
    const silences = await svc.store.silences.list({ tenant: 'default' });
    assert.equal(silences.length, 1);
    assert.equal(silences[0].reason, 'rolling back v2.3.1');
    assert.equal(silences[0].endsAt - silences[0].startsAt, 2 * 3_600_000);

    await page.click('[data-testid=label-noise]');
    await page.waitForSelector('[data-testid=labels]:has-text("noise")');
    assert.deepEqual((await svc.store.feedback.list({ tenant: 'default', fingerprint: A1 })).map((f) => f.label), ['noise']);
    await shot(page, '04-triage-after-actions', true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a triage page of planted markup escapes everything', async () => {
    const { page, errors, dialogs } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/triage/default/${XSS}`);
    await page.waitForSelector('#where [data-testid=where-verdict], #where [data-testid=no-contributors], #where .box');
    const body = await page.textContent('main');
    assert.ok(body?.includes(XSS_SCRIPT) && body.includes(XSS_IMG));
    await page.waitForTimeout(300); // let a broken image have its chance to error
    await assertInert(page, dialogs);
    await shot(page, '05-triage-escaped', true);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('silences: list with what they mute, create a recurring one, expire', async () => {
    const { page, errors } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/silences`);
    await page.waitForSelector('[data-testid=silences-table] tbody tr');
    assert.match(await page.textContent('[data-testid=mutes]') ?? '', /1 open alert/);
    await page.fill('[data-testid=new-matchers]', '{service="checkout"}');
    await page.fill('[data-testid=new-reason]', 'weekly db maintenance');
    await page.check('input[name=rec][value=weekly]');
    await page.uncheck('[data-testid=day-sat]');
    await page.check('[data-testid=day-wed]');
    await page.click('[data-testid=create-silence]');
    await page.waitForSelector('.flash-ok:has-text("created")');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=silences-table] tbody tr').length === 2);
    const rec = (await svc.store.silences.list({ tenant: 'default' })).find((s) => s.reason === 'weekly db maintenance');
    assert.ok(rec);
    assert.deepEqual((rec.recurrence as { weekdays: string[] }).weekdays.sort(), ['sun', 'wed']);
    assert.match(await page.textContent('[data-testid=silences-table]') ?? '', /Wed, Sun at 02:00 for 2h/);
    await shot(page, '06-silences');
    const first = (await svc.store.silences.list({ tenant: 'default' })).find((s) => s.reason === 'rolling back v2.3.1')!;
    await page.click(`tr[data-silence="${first.id}"] [data-testid=expire]`);
    await page.waitForSelector('.flash-ok:has-text("expired")');
    const after = await svc.store.silences.get('default', first.id);
    assert.ok(after && after.endsAt <= Date.now());
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('explorer, backtest through the pipeline, config and audit', async () => {
    const { page, errors } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/explore`);
    await page.fill('[data-testid=explore-query]', METRIC);
    await page.press('[data-testid=explore-query]', 'Enter');
    await page.click('[data-testid=series-list] li:has-text("eu-west-1") button');
    await page.waitForSelector('[data-testid=chart] canvas');
    assert.equal(Number(await page.getAttribute('[data-testid=chart]', 'data-anomalies')), INCIDENT_MIN);
    await shot(page, '07-explore');

    await page.click('nav >> text=Backtest');
    await page.fill('[data-testid=backtest-selector]', '{service="checkout",region="eu-west-1"}');
    // An edited config, not saved: a threshold the planted incident crosses and the daily wave does not.
    await page.check('[data-testid=backtest-edit]');
    await page.fill('[data-testid=backtest-yaml]', BACKTEST_YAML);
    const alertsBefore = (await svc.store.alerts.list({ tenant: 'default' })).length;
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/backtest')), page.click('[data-testid=run-backtest]')]);
    assert.equal(answer.status(), 200, await answer.text());
    const bt = (await answer.json()).data as { days: { alerts: number; pages: number }[]; totals: { alerts: number; pages: number }; series: number; points: number; alerts: { metric: string; firingAt: number | null }[] };
    await page.waitForSelector('[data-testid=backtest-days] tbody tr');
    // Seven days of the seeded minute points, judged after a day of warm-up; the planted incident fires, once.
    assert.equal(bt.series, 13, 'the series and its 12 children');
    assert.ok(bt.points >= 7 * 1440, `points ${bt.points}`);
    assert.equal(bt.totals.alerts, 1, JSON.stringify(bt.totals));
    assert.ok(bt.alerts.some((a) => a.metric === METRIC && a.firingAt !== null && a.firingAt >= T - INCIDENT_MIN * MIN), JSON.stringify(bt.alerts));
    assert.equal(await page.$$eval('[data-testid=backtest-days] tbody tr', (trs) => trs.length), bt.days.length);
    assert.ok(bt.days.length >= 7);
    assert.match(await page.textContent('[data-testid=backtest-totals]') ?? '', new RegExp(`^${bt.totals.alerts} alerts, ${bt.totals.pages} pages`));
    assert.equal(await page.$$eval('[data-testid=backtest-alerts] tbody tr', (trs) => trs.length), Math.min(200, bt.alerts.filter((a) => a.firingAt !== null).length));
    assert.equal((await svc.store.alerts.list({ tenant: 'default' })).length, alertsBefore, 'the backtest wrote no live alert');
    await shot(page, '08-backtest', true);
    // A mistake in an edited config comes back naming the field, and nothing runs.
    await page.fill('[data-testid=backtest-yaml]', 'tenant: default\nrules: [{ name: x }]\n');
    await page.click('[data-testid=run-backtest]');
    await page.waitForSelector('.error, [role=alert]');
    assert.match(await page.textContent('main') ?? '', /rules\[0\]/);

    await svc.store.config.put({ tenant: 'default', yaml: 'version: 1\ntenant: default\n', author: 'token:default-admin', at: Date.now(), comment: 'first' });
    await page.click('nav >> text=Config & audit');
    await page.waitForSelector('[data-testid=config-meta]');
    assert.match(await page.textContent('#current h2') ?? '', /version 1/);
    await svc.store.config.put({ tenant: 'default', yaml: 'version: 1\ntenant: default\nlimits:\n  active_series: 5000\n', author: 'token:default-admin', at: Date.now(), comment: 'cap series' });
    await page.reload();
    await page.waitForSelector('[data-testid=versions] li');
    assert.equal(await page.$$eval('[data-testid=versions] li', (els) => els.length), 2);
    // Opening the newest version shows its line diff against the one before.
    await page.click('[data-testid=versions] li:first-child button');
    await page.waitForSelector('[data-testid=diff]');
    assert.match(await page.textContent('[data-testid=diff]') ?? '', /\+\s+active_series: 5000/);
    await page.waitForSelector('[data-testid=audit] tbody tr');
    assert.match(await page.textContent('[data-testid=audit]') ?? '', /token:default-admin/);
    await shot(page, '09-config');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('is keyboard reachable: skip link first, Tab to an alert, Enter opens its triage page', async () => {
    const { page } = await newPage(ctx, svc.tokens.default.admin);
    await page.goto(`${base}/ui/alerts`);
    await page.waitForSelector('[data-testid=alerts-table] tbody tr');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    let found = false;
    for (let i = 0; i < 60 && !found; i++) {
      await page.keyboard.press('Tab');
      found = await page.evaluate(() => document.activeElement?.classList.contains('alert-link') ?? false);
    }
    assert.ok(found, 'Tab reaches the first alert link');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    assert.equal(outline, 'solid');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=triage-page]');
    await page.close();
  });

  it('a read-only token sees no action buttons, and the API refuses its writes', async () => {
    const { page, errors } = await newPage(ctx, svc.tokens.default.read);
    await page.goto(`${base}/ui/triage/default/${A1}`);
    await page.waitForSelector('[data-testid=chart] canvas');
    assert.equal(await page.textContent('.role'), 'read-only');
    for (const sel of ['[data-testid=ack]', '[data-testid=silence]', '[data-testid=label-noise]', '#actions']) assert.equal(await page.$(sel), null, sel);
    await page.goto(`${base}/ui/silences`);
    await page.waitForSelector('[data-testid=silences-table]');
    assert.equal(await page.$('[data-testid=expire]'), null);
    assert.equal(await page.$('[data-testid=silence-form]'), null);
    const status = await page.evaluate(async (fp) => (await fetch(`/api/v1/alerts/${fp}/ack`, { method: 'POST', headers: { authorization: `Bearer ${sessionStorage.getItem('tidemark.token')}`, 'content-type': 'application/json' }, body: '{}' })).status, A1);
    assert.equal(status, 403);
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('reads at phone width in the dark theme', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
    const { page, errors } = await newPage(phone, svc.tokens.default.admin);
    await page.goto(`${base}/ui/alerts`);
    await page.waitForSelector('[data-testid=alerts-table] tbody tr');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok((await overflow()) <= 1, `alerts page scrolls sideways by ${await overflow()} px`);
    await shot(page, '10-alerts-dark-phone', true);
    await page.goto(`${base}/ui/triage/default/${A1}`);
    await page.waitForSelector('[data-testid=chart] canvas');
    assert.ok((await overflow()) <= 1, `triage page scrolls sideways by ${await overflow()} px`);
    await shot(page, '11-triage-dark-phone', true);
    await page.locator('#chart').screenshot({ path: join(shots, '11b-triage-dark-phone-chart.png') });
    await page.locator('#where').screenshot({ path: join(shots, '11c-triage-dark-phone-where.png') });
    await page.goto(`${base}/ui/silences`);
    await page.waitForSelector('[data-testid=silences-table]');
    await shot(page, '12-silences-dark-phone', true);
    await phone.close();
    // And the desktop in dark.
    const dark = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
    const d = await newPage(dark, svc.tokens.default.admin);
    await d.page.goto(`${base}/ui/triage/default/${A1}`);
    await d.page.waitForSelector('[data-testid=chart] canvas');
    await shot(d.page, '13-triage-dark-1280', true);
    await dark.close();
    assert.deepEqual([...errors, ...d.errors], []);
  });

  it('stays fast with 10,000 alerts and a 7-day chart of 1-minute points', async () => {
    const now = Date.now();
    const sevs = ['S0', 'S1', 'S2', 'S3'] as const;
    await Promise.all(
      Array.from({ length: 10_000 }, (_, i) =>
        svc.store.alerts.upsert({
          tenant: 'default', fingerprint: `f${i.toString(16).padStart(15, '0')}`, metric: `load_metric_${i % 50}`, labels: { service: `svc-${i % 40}`, region: `r${i % 6}`, severity: sevs[i % 4], rule: 'load' },
          seriesId: null, state: i % 5 === 0 ? 'resolved' : 'firing', severity: sevs[i % 4], startsAt: now - i * 1000, at: now, score: 0.9, reasons: ['above_band'], owner: `team-${i % 9}`, runbook: null,
          packet: { suppressions: i % 7 === 0 ? [{ kind: 'budget', at: now, reason: 'tenant page budget 10/h spent' }] : [], events: [] },
        }),
      ),
    );
    const { page, errors } = await newPage(ctx, svc.tokens.default.admin);
    let t0 = Date.now();
    await page.goto(`${base}/ui/alerts`);
    // Interactive: the first page of rows and the counts are drawn (the counts cover all 10,0xx).
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid=alerts-table] tbody tr').length > 0 &&
        Number(document.querySelector('[data-testid=count-S3] .sevchip-n')?.textContent) > 0 &&
        /· 10,?0\d\d alerts/.test(document.querySelector('[data-testid=alerts-summary]')?.textContent ?? ''),
      undefined,
      { timeout: 30_000 },
    );
    const listMs = Date.now() - t0;
    const before = await page.textContent('[data-testid=alerts-summary]');
    t0 = Date.now();
    await page.fill('[data-testid=filter-text]', 'svc-7 r1');
    await page.waitForFunction((prev) => document.querySelector('[data-testid=alerts-summary]')?.textContent !== prev, before);
    const filterMs = Date.now() - t0;
    await shot(page, '14-alerts-10k');
    t0 = Date.now();
    await page.goto(`${base}/ui/triage/default/${A1}`);
    await page.waitForSelector('[data-testid=chart] canvas');
    const triageMs = Date.now() - t0;
    t0 = Date.now();
    await page.click('#chart button.tab:has-text("7d")');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart]')?.getAttribute('data-points')) > 10_000);
    const weekMs = Date.now() - t0;
    // The list's read: every alert with packets (the first page), every alert in the summary
    // view (the second) and one page of 200 with the counts (now), fetched and parsed in the
    // browser, alternating: medians of 3.
    const apiMs = await page.evaluate(async () => {
      const token = sessionStorage.getItem('tidemark.token');
      const out: Record<string, number[]> = { full: [], summary: [], page: [] };
      for (let k = 0; k < 3; k++) {
        for (const [name, q] of [['full', ''], ['summary', '&view=summary'], ['page', '&view=summary&sort=severity&state=pending,firing&counts=1']]) {
          const t = performance.now();
          await (await fetch(`/api/v1/alerts?limit=${name === 'page' ? 200 : 10000}${q}`, { headers: { authorization: `Bearer ${token}` } })).json();
          out[name].push(performance.now() - t);
        }
      }
      return { full: Math.round(out.full.sort((a, b) => a - b)[1]), summary: Math.round(out.summary.sort((a, b) => a - b)[1]), page: Math.round(out.page.sort((a, b) => a - b)[1]) };
    });
    console.log(`BENCH ${JSON.stringify({ name: 'web.interactive', alerts_list_10k_ms: listMs, filter_10k_ms: filterMs, triage_6h_ms: triageMs, triage_7d_switch_ms: weekMs, api_full_10k_ms: apiMs.full, api_summary_10k_ms: apiMs.summary, api_page_200_counts_ms: apiMs.page, page_full_ratio: +(apiMs.page / apiMs.full).toFixed(3), summary_full_ratio: +(apiMs.summary / apiMs.full).toFixed(3) })}`);
    // The target is 1 s on an idle machine; the bound here leaves room for a shared CI core.
    for (const [what, ms] of [['alerts list', listMs], ['triage page', triageMs], ['7-day chart', weekMs]] as const) assert.ok(ms < 3000, `${what} took ${ms} ms`);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
