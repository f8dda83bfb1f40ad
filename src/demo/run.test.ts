// The demo end to end, at high speed on a temporary store with a fixed clock: its config is
// stored as a version by `demo`, and the newcomer's story happens: the early warning, an auth
// latency alert that fires and escalates to a page, its triage packet with the deploy as the
// likely cause, and the console lines that tell it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { openTestService, type TestService } from '../api/testkit.ts';
import { loadConfig } from '../config/index.ts';
import { DEMO_CONFIG_PATH, demoConfigYaml, packetOf, registerDemoReceiver, startDemo } from './run.ts';

const NOW = Date.UTC(2026, 10, 18, 14, 0); // a weekday afternoon, near the daily peak

describe('demo', () => {
  it('the demo config validates, and its receiver is rewritten to the server it runs in', () => {
    const file = loadConfig(readFileSync(DEMO_CONFIG_PATH, 'utf8'), DEMO_CONFIG_PATH);
    assert.deepEqual(file.errors, []);
    const c = loadConfig(demoConfigYaml('shop', 'http://127.0.0.1:4321'), 'demo').config!;
    assert.equal(c.tenant, 'shop');
    assert.deepEqual(c.receivers.map((r) => r.webhook?.url), ['http://127.0.0.1:4321/demo/webhook']);
    const auth = c.rules.find((r) => r.name === 'auth-latency')!;
    assert.equal(auth.severity, 'S2');
    assert.ok(c.rules.some((r) => r.maintenance.length > 0), 'a maintenance window example');
  });

  let svc: TestService | undefined;
  after(() => svc?.close());

  it('plays the scenario: early warning, an auth alert paging with the deploy first in its packet', async () => {
    svc = await openTestService({ clock: () => NOW });
    registerDemoReceiver(svc.app);
    await svc.app.ready();
    const lines: string[] = [];
    const demo = startDemo({ app: svc.app, store: svc.store, engine: svc.engine, clock: () => NOW, days: 3, speed: 60_000, log: (l) => lines.push(l) });
    try {
      await demo.backfilled;
      const versions = await svc.store.config.list('default');
      assert.equal(versions.length, 1);
      assert.equal(versions[0].author, 'demo');
      let found = false;
      for (let i = 0; i < 600 && !found; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await svc.engine.alerting!.settled();
        const alerts = await svc.store.alerts.list({ tenant: 'default', states: ['firing'], matchers: [{ name: 'rule', op: '=', value: 'auth-latency' }] });
        found = alerts.some((a) => a.severity === 'S2' && packetOf(a) !== undefined) && lines.some((l) => l.includes('triage:'));
      }
      assert.ok(found, `no paging auth-latency alert with a packet; console:\n${lines.join('\n')}`);
      const alerts = await svc.store.alerts.list({ tenant: 'default', states: ['firing'], matchers: [{ name: 'rule', op: '=', value: 'auth-latency' }] });
      for (const a of alerts.filter((x) => packetOf(x))) {
        const first = packetOf(a)!.why.changes[0];
        assert.equal(first?.kind, 'deploy');
        assert.equal(first?.service, 'auth');
        assert.ok(first?.suspect, 'the deploy is named as the likely cause');
      }
      const text = lines.join('\n');
      assert.match(text, /stored the demo config .* as version 1 of tenant default/);
      assert.match(text, /change event: deploy auth v2\.3\.0 -> v2\.4\.0/);
      assert.match(text, /early warning: auth http_request_duration_ms_p\d\d/);
      assert.match(text, /ALERT FIRING S\d auth-latency/);
      assert.match(text, /triage: .*likely cause: deploy auth "auth v2\.3\.0 -> v2\.4\.0/);
      // The early warning comes before the alert, and the deploy before both.
      const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
      assert.ok(at(/change event: deploy/) < at(/early warning/) && at(/early warning/) < at(/ALERT FIRING/), text);
    } finally {
      demo.stop();
    }
  });
});
