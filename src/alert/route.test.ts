import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadConfigOrThrow } from '../config/index.ts';
import { routeReceivers } from './route.ts';

const config = loadConfigOrThrow(readFileSync(new URL('../../examples/tidemark.yaml', import.meta.url), 'utf8'), 'examples/tidemark.yaml');

const cases: { name: string; labels: Record<string, string>; want: string[] }[] = [
  { name: 'S2 pages, and continue offers it to the team route too', labels: { severity: 'S2', team: 'checkout', tier: 'critical' }, want: ['payments-pager'] },
  { name: 'S2 without team: pager only', labels: { severity: 'S2' }, want: ['payments-pager'] },
  { name: 'team route without a matching child: its own receiver', labels: { severity: 'S1', team: 'payments' }, want: ['payments-slack'] },
  { name: 'owner route', labels: { severity: 'S1', owner: 'team-platform' }, want: ['platform-webhook'] },
  { name: 'nothing matches: the root receiver', labels: { severity: 'S1' }, want: ['payments-slack'] },
  { name: 'S2 and team-platform: continue reaches the owner route', labels: { severity: 'S2', owner: 'team-platform' }, want: ['payments-pager', 'platform-webhook'] },
];
for (const c of cases) {
  test(`routing tree: ${c.name}`, () => {
    assert.deepEqual(routeReceivers(config.route!, c.labels), c.want);
  });
}
