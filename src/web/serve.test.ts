import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTestService, type TestService } from '../api/testkit.ts';
import { registerWeb } from './serve.ts';

// A stand-in build (the real one is exercised by ui.test.ts in a browser).
const SHELL = '<!doctype html><html><head><script type="module" src="/ui/assets/app-abc123.js"></script></head><body><div id="app"></div></body></html>';
const BUNDLE = 'console.log("tidemark")';

describe('registerWeb', () => {
  let dist: string;
  let svc: TestService;
  let unbuilt: TestService;
  before(async () => {
    dist = mkdtempSync(join(tmpdir(), 'tidemark-web-'));
    mkdirSync(join(dist, 'assets'));
    writeFileSync(join(dist, 'index.html'), SHELL);
    writeFileSync(join(dist, 'assets', 'app-abc123.js'), BUNDLE);
    writeFileSync(join(dist, 'secret.txt'), 'not for the web');
    svc = await openTestService();
    await registerWeb(svc.app, dist);
    unbuilt = await openTestService();
    await registerWeb(unbuilt.app, join(dist, 'missing'));
  });
  after(async () => {
    await svc.close();
    await unbuilt.close();
    rmSync(dist, { recursive: true, force: true });
  });

  const shellPaths = [
    { name: 'root', url: '/' },
    { name: 'ui root', url: '/ui' },
    { name: 'triage deep link', url: '/ui/triage/default/aaaa000000000001' },
    { name: 'client route with a query', url: '/ui/explore?q=latency' },
  ];
  for (const c of shellPaths) {
    it(`serves the app shell with a strict CSP: ${c.name}`, async () => {
      const r = await svc.app.inject({ method: 'GET', url: c.url });
      assert.equal(r.statusCode, 200);
      assert.equal(r.body, SHELL);
      assert.match(String(r.headers['content-type']), /^text\/html/);
      assert.equal(r.headers['cache-control'], 'no-cache');
      const csp = String(r.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    });
  }

  it('serves hashed assets as immutable', async () => {
    const r = await svc.app.inject({ method: 'GET', url: '/ui/assets/app-abc123.js' });
    assert.equal(r.statusCode, 200);
    assert.equal(r.body, BUNDLE);
    assert.match(String(r.headers['content-type']), /javascript/);
    assert.match(String(r.headers['cache-control']), /immutable/);
  });

  const refused = [
    { name: 'missing asset', url: '/ui/assets/nope.js' },
    { name: 'traversal out of assets', url: '/ui/assets/../secret.txt' },
    { name: 'encoded traversal', url: '/ui/assets/%2e%2e/secret.txt' },
    { name: 'traversal out of the root', url: '/ui/assets/../../package.json' },
  ];
  for (const c of refused) {
    it(`does not serve files outside the bundle: ${c.name}`, async () => {
      const r = await svc.app.inject({ method: 'GET', url: c.url });
      assert.notEqual(r.body, 'not for the web');
      assert.ok(!r.body.includes('"name": "tidemark"'));
      // Either the route matched and found nothing, or fastify normalised the path onto the shell.
      assert.ok(r.statusCode === 404 || r.statusCode === 403 || (r.statusCode === 200 && r.body === SHELL), `${r.statusCode} ${r.body.slice(0, 80)}`);
    });
  }

  it('keeps the API and its JSON 404s as they were', async () => {
    const api = await svc.app.inject({ method: 'GET', url: '/api/v1/alerts', headers: { authorization: `Bearer ${svc.tokens.default.read}` } });
    assert.equal(api.statusCode, 200);
    const missing = await svc.app.inject({ method: 'GET', url: '/api/v1/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, 'TM_ERR_NOT_FOUND');
  });

  it('says how to build the UI when dist/web is missing', async () => {
    const r = await unbuilt.app.inject({ method: 'GET', url: '/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /npm run build:web/);
  });
});
