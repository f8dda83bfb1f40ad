import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../store/index.ts';
import { addToken, openTestService, type TestService } from './testkit.ts';

const NOW = Date.UTC(2025, 6, 1, 12, 0, 0);
const MIN = 60_000;
let svc: TestService;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function get(url: string, token: string | null): Promise<{ status: number; json: Json }> {
  const r = await svc.app.inject({ method: 'GET', url, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: r.statusCode, json: r.json() as Json };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const YAML = ['tenant: default\n', 'tenant: default\nlimits: {}\n', 'tenant: default\n# back again\n'];

describe('whoami, config versions and audit API', () => {
  let expired = '';
  before(async () => {
    svc = await openTestService({ clock: () => NOW });
    for (const [i, yaml] of YAML.entries()) {
      await svc.store.config.put({ tenant: 'default', yaml, author: `token:ann${i}`, at: NOW - (3 - i) * MIN, comment: i === 1 ? 'limits' : null });
    }
    await svc.store.config.put({ tenant: 'other', yaml: 'tenant: other\n', author: 'token:bob', at: NOW - 10 * MIN });
    expired = await addToken(svc.store, 'default', 'admin', 'old-admin');
    const tok = await svc.store.tokens.byHash(hashToken(expired));
    assert.ok(tok, 'the test token is stored under its hash');
    await svc.store.tokens.revoke('default', tok.id, NOW - MIN);
  });
  after(() => svc.close());

  describe('GET /api/v1/whoami', () => {
    for (const role of ['read', 'write', 'admin'] as const) {
      it(`answers a ${role} token with its tenant, role and name`, async () => {
        const r = await get('/api/v1/whoami', svc.tokens.other[role]);
        assert.equal(r.status, 200);
        assert.deepEqual(r.json.data, { tenant: 'other', role, tokenName: `other-${role}` });
      });
    }
    const refused = [
      { name: 'no token', token: () => null },
      { name: 'an unknown token', token: () => 'not-a-token' },
      { name: 'a revoked token', token: () => expired },
    ];
    for (const c of refused) {
      it(`refuses ${c.name} with 401`, async () => {
        const r = await get('/api/v1/whoami', c.token());
        assert.equal(r.status, 401);
        assert.equal(r.json.error.code, 'TM_ERR_UNAUTHORIZED');
        assert.equal(r.json.error.field, 'Authorization');
      });
    }
  });

  describe('GET /api/v1/config/versions', () => {
    it('lists the tenant\'s versions newest first, with hash and message, without the YAML', async () => {
      const r = await get('/api/v1/config/versions', svc.tokens.default.admin);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data, [
        { version: 3, author: 'token:ann2', at: NOW - MIN, hash: sha256(YAML[2]), message: null },
        { version: 2, author: 'token:ann1', at: NOW - 2 * MIN, hash: sha256(YAML[1]), message: 'limits' },
        { version: 1, author: 'token:ann0', at: NOW - 3 * MIN, hash: sha256(YAML[0]), message: null },
      ]);
    });

    it('limit keeps the newest', async () => {
      const r = await get('/api/v1/config/versions?limit=2', svc.tokens.default.admin);
      assert.deepEqual(r.json.data.map((v: Json) => v.version), [3, 2]);
    });

    it('?version=N answers that version with its YAML', async () => {
      const r = await get('/api/v1/config/versions?version=2', svc.tokens.default.admin);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data, { version: 2, author: 'token:ann1', at: NOW - 2 * MIN, hash: sha256(YAML[1]), message: 'limits', yaml: YAML[1] });
    });

    it('keeps tenants apart: another tenant sees only its own versions', async () => {
      const list = await get('/api/v1/config/versions', svc.tokens.other.admin);
      assert.deepEqual(list.json.data.map((v: Json) => [v.version, v.author]), [[1, 'token:bob']]);
      const one = await get('/api/v1/config/versions?version=2', svc.tokens.other.admin);
      assert.equal(one.status, 404);
      assert.equal(one.json.error.field, 'version');
    });
  });

  describe('GET /api/v1/audit', () => {
    // Seeded on top of the three config.put entries: a tie group of two at T-2 that straddles
    // a page of 2, and a group of three at T-4 larger than a page of 2.
    const T = NOW - 100 * MIN;
    before(async () => {
      const add = (at: number, action: string, target: string, diff: string | null = null) =>
        svc.store.audit.add({ tenant: 'default', at, actor: 'token:default-write', action, target, diff });
      await add(T, 'silence.create', 'silence/a', '{"reason":"deploy"}');
      await add(T - 1, 'alert.ack', 'alert/1');
      await add(T - 2, 'alert.ack', 'alert/2');
      await add(T - 2, 'alert.ack', 'alert/3');
      await add(T - 3, 'silence.expire', 'silence/a');
      for (const n of [4, 5, 6]) await add(T - 4, 'alert.ack', `alert/${n}`);
      await svc.store.audit.add({ tenant: 'other', at: T, actor: 'token:bob', action: 'silence.create', target: 'silence/b' });
    });

    it('lists entries newest first with who, what, when and diff, of the token\'s tenant only', async () => {
      const r = await get('/api/v1/audit', svc.tokens.default.admin);
      assert.equal(r.status, 200);
      assert.equal(r.json.next, null);
      assert.deepEqual(r.json.data.map((e: Json) => e.target), ['config/v3', 'config/v2', 'config/v1', 'silence/a', 'alert/1', 'alert/3', 'alert/2', 'silence/a', 'alert/6', 'alert/5', 'alert/4']);
      const first = r.json.data[3];
      assert.deepEqual({ at: first.at, actor: first.actor, action: first.action, target: first.target, diff: first.diff, tenant: first.tenant }, { at: T, actor: 'token:default-write', action: 'silence.create', target: 'silence/a', diff: '{"reason":"deploy"}', tenant: 'default' });
      const other = await get('/api/v1/audit', svc.tokens.other.admin);
      assert.deepEqual(other.json.data.map((e: Json) => e.target), ['config/v1', 'silence/b']);
    });

    it('before skips newer entries (ms or RFC 3339)', async () => {
      for (const before of [String(T), new Date(T).toISOString()]) {
        const r = await get(`/api/v1/audit?before=${encodeURIComponent(before)}&limit=1`, svc.tokens.default.admin);
        assert.equal(r.status, 200, before);
        assert.deepEqual(r.json.data.map((e: Json) => e.target), ['alert/1'], before);
        assert.equal(r.json.next, T - 1);
      }
    });

    it('paging with next visits every entry once, never splitting a group with the same time', async () => {
      const all = (await get('/api/v1/audit', svc.tokens.default.admin)).json.data.map((e: Json) => e.id);
      const pages: number[][] = [];
      let before: number | null | undefined;
      for (let i = 0; i < 20 && before !== null; i++) {
        const r = await get(`/api/v1/audit?limit=2${before === undefined ? '' : `&before=${before}`}`, svc.tokens.default.admin);
        assert.equal(r.status, 200);
        pages.push(r.json.data.map((e: Json) => e.target));
        before = r.json.next;
        if (before !== null) assert.ok(r.json.data.length > 0, 'a page that promises more is not empty');
      }
      assert.deepEqual(pages, [
        ['config/v3', 'config/v2'],
        ['config/v1', 'silence/a'],
        ['alert/1'], // alert/3 and alert/2 share a time: both go to the next page
        ['alert/3', 'alert/2'],
        ['silence/a'], // the group of three at T-4 does not fit beside it
        ['alert/6', 'alert/5', 'alert/4'], // a group larger than the page comes whole
      ]);
      const seen = [];
      before = undefined;
      for (let i = 0; i < 20 && before !== null; i++) {
        const r = await get(`/api/v1/audit?limit=2${before === undefined ? '' : `&before=${before}`}`, svc.tokens.default.admin);
        seen.push(...r.json.data.map((e: Json) => e.id));
        before = r.json.next;
      }
      assert.deepEqual(seen, all);
    });
  });

  describe('errors', () => {
    const bad = [
      { name: 'version not a number', url: '/api/v1/config/versions?version=abc', field: 'version' },
      { name: 'version zero', url: '/api/v1/config/versions?version=0', field: 'version' },
      { name: 'version repeated', url: '/api/v1/config/versions?version=1&version=2', field: 'version' },
      { name: 'version and limit', url: '/api/v1/config/versions?version=1&limit=2', field: 'limit' },
      { name: 'unknown config field', url: '/api/v1/config/versions?verison=1', field: 'verison' },
      { name: 'audit limit zero', url: '/api/v1/audit?limit=0', field: 'limit' },
      { name: 'audit limit too large', url: '/api/v1/audit?limit=1001', field: 'limit' },
      { name: 'audit limit negative', url: '/api/v1/audit?limit=-5', field: 'limit' },
      { name: 'audit before not a time', url: '/api/v1/audit?before=yesterday', field: 'before' },
      { name: 'unknown audit field', url: '/api/v1/audit?after=1', field: 'after' },
      { name: 'whoami takes no fields', url: '/api/v1/whoami?tenant=other', field: 'tenant' },
    ];
    for (const c of bad) {
      it(`400 naming the field: ${c.name}`, async () => {
        const r = await get(c.url, svc.tokens.default.admin);
        assert.equal(r.status, 400);
        assert.equal(r.json.error.code, 'TM_ERR_INPUT');
        assert.equal(r.json.error.field, c.field);
      });
    }

    for (const url of ['/api/v1/config/versions', '/api/v1/config/versions?version=1', '/api/v1/audit']) {
      for (const role of ['read', 'write'] as const) {
        it(`403 for a ${role} token: ${url}`, async () => {
          const r = await get(url, svc.tokens.default[role]);
          assert.equal(r.status, 403);
          assert.equal(r.json.error.code, 'TM_ERR_FORBIDDEN');
        });
      }
      it(`401 without a token: ${url}`, async () => {
        assert.equal((await get(url, null)).status, 401);
      });
    }
  });
});
