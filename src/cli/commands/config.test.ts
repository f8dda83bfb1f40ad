import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../main.ts';

const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
const EXAMPLE = new URL('../../../examples/tidemark.yaml', import.meta.url).pathname;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Runs the CLI in-process and captures what it writes. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const write = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    [process.stdout.write, process.stderr.write] = write;
  }
}

const GOOD = 'tenant: acme\nmetrics:\n  - { name: up, type: gauge, unit: bool, labels: [job] }\n';
const BAD = `tenant: acme
metrics:
  - name: up
    type: gauge
    unit: bool
    labels: [job]
rules:
  - name: down
    selector: 'up{jbo="api"}'
    aggregation: { function: min, window: ten }
    severity: S1
    owner: team-a
`;

test('validate: a valid file prints a summary and exits 0', async () => {
  const r = await run('config', 'validate', EXAMPLE);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${EXAMPLE}: ok (tenant payments: 5 metrics, 9 rules, 4 receivers)\n`);
  assert.equal(r.err, '');
});

test('validate: every error with file, path and line, then exit 2', async () => {
  const bad = file('bad.yaml', BAD);
  const r = await run('config', 'validate', bad);
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  assert.equal(r.err, [
    `${bad}: rules[0].receiver (line 8): severity S1 notifies, but this rule has no receiver and there is no route: set receiver, or add a route with a default receiver`,
    `${bad}: rules[0].selector (line 9): label 'jbo' is not an allowed label of metric 'up' (did you mean 'job'?); allowed: job`,
    `${bad}: rules[0].aggregation.window (line 10): expected a positive duration like 30s, 5m or 1h30m, got "ten"`,
    '3 problems in 1 file; nothing was loaded',
    '',
  ].join('\n'));
});

test('validate: several tenants are summed, and a tenant configured twice is an error', async () => {
  const other = file('other.yaml', GOOD.replace('acme', 'globex'));
  const good = file('good.yaml', GOOD);
  const r = await run('config', 'validate', good, other);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.split('\n').at(-2), 'valid: 2 tenants, 2 metrics, 0 rules, 0 receivers');
  const twin = file('twin.yaml', GOOD);
  const dup = await run('config', 'validate', good, twin);
  assert.equal(dup.code, 2);
  assert.equal(dup.err, `${twin}: tenant: tenant 'acme' is also configured in ${good}\n1 problem in 1 file; nothing was loaded\n`);
});

test('validate --json gives machine-readable errors', async () => {
  const bad = file('bad2.yaml', BAD);
  const r = await run('config', 'validate', '--json', bad);
  assert.equal(r.code, 2);
  const parsed = JSON.parse(r.out);
  assert.equal(parsed.valid, false);
  assert.deepEqual(parsed.files[0].errors[2], { code: 'TM_ERR_CONFIG', path: 'rules[0].aggregation.window', line: 10, message: 'expected a positive duration like 30s, 5m or 1h30m, got "ten"' });
});

test('usage errors exit 2 with a message', async () => {
  const cases: Array<[string[], string]> = [
    [['config'], "tidemark config: config needs a sub-command: validate or diff; see tidemark config --help [TM_ERR_USAGE]\n"],
    [['config', 'check'], "tidemark config: config needs a known sub-command, not 'check': validate or diff; see tidemark config --help [TM_ERR_USAGE]\n"],
    [['config', 'validate'], 'tidemark config: config validate needs at least one FILE; see tidemark config --help [TM_ERR_USAGE]\n'],
    [['config', 'validate', join(dir, 'missing.yaml')], `tidemark config: cannot read ${join(dir, 'missing.yaml')}: ENOENT [TM_ERR_INPUT]\n`],
  ];
  for (const [argv, err] of cases) {
    const r = await run(...argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.equal(r.err, err);
  }
  const unknown = await run('config', 'validate', '--strict', EXAMPLE);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /Unknown option '--strict'/);
});

test('diff: semantic summary, then the unified diff', async () => {
  const a = file('a.yaml', GOOD);
  const b = file('b.yaml', GOOD.replace('labels: [job]', 'labels: [job, instance]') + 'limits: { active_series: 10 }\n');
  const r = await run('config', 'diff', a, b);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, [
    "# metric 'up' changed: labels",
    '# limits changed: activeSeries 100000 -> 10',
    `--- ${a}`,
    `+++ ${b}`,
    '@@ -1,3 +1,4 @@',
    ' tenant: acme',
    ' metrics:',
    '-  - { name: up, type: gauge, unit: bool, labels: [job] }',
    '+  - { name: up, type: gauge, unit: bool, labels: [job, instance] }',
    '+limits: { active_series: 10 }',
    '',
  ].join('\n'));
  const same = await run('config', 'diff', a, a);
  assert.equal(same.out, 'no change\n');
});

test('the real binary validates the example end to end', () => {
  const bin = new URL('../../../bin/tidemark.js', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [bin, 'config', 'validate', EXAMPLE], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ok \(tenant payments: 5 metrics, 9 rules, 4 receivers\)/);
});
