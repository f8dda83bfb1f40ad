import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { loadConfigOrThrow } from './load.ts';
import { auditConfigChange, describeConfigChange, hashConfig, nextConfigVersion } from './version.ts';

const V1 = `tenant: acme
metrics:
  - { name: queue_depth, type: gauge, unit: messages, labels: [queue] }
receivers:
  - name: slack
    slack: { webhook_url: https://hooks.slack.com/services/T/B/X }
rules:
  - name: backlog
    selector: queue_depth
    aggregation: { function: max, window: 5m }
    severity: S1
    owner: team-a
    receiver: slack
  - name: old-rule
    selector: queue_depth
    aggregation: { function: min, window: 5m }
    severity: S0
    owner: team-a
`;

const V2 = V1
  .replace('function: max, window: 5m }\n    severity: S1', 'function: max, window: 10m }\n    severity: S1\n    sensitivity: high')
  .replace(/  - name: old-rule[\s\S]*$/, '  - name: new-rule\n    selector: queue_depth\n    aggregation: { function: avg, window: 1h }\n    severity: S0\n    owner: team-b\nlimits:\n  active_series: 5000\n');

test('hashConfig is the SHA-256 of the exact text', () => {
  assert.equal(hashConfig('a'), `sha256:${createHash('sha256').update('a').digest('hex')}`);
  assert.notEqual(hashConfig(V1), hashConfig(V1 + '# comment\n'));
});

test('versions count up from 1 and carry who and when', () => {
  const v1 = nextConfigVersion(undefined, V1, 'alice', 1_000);
  const v2 = nextConfigVersion(v1, V2, 'bob', 2_000);
  assert.deepEqual(v1, { version: 1, text: V1, hash: hashConfig(V1), author: 'alice', at: 1_000 });
  assert.deepEqual([v2.version, v2.author, v2.at], [2, 'bob', 2_000]);
  assert.ok(Object.isFrozen(v2));
});

test('describeConfigChange names what changed, field by field', () => {
  const before = loadConfigOrThrow(V1, 'v1');
  const after = loadConfigOrThrow(V2, 'v2');
  assert.deepEqual(describeConfigChange(before, after), [
    "rule 'backlog' changed: aggregation, sensitivity",
    "rule 'new-rule' added",
    "rule 'old-rule' removed",
    'limits changed: activeSeries 100000 -> 5000',
  ]);
  assert.deepEqual(describeConfigChange(before, before), []);
  assert.deepEqual(describeConfigChange(undefined, before), ["metric 'queue_depth' added", "rule 'backlog' added", "rule 'old-rule' added", "receiver 'slack' added"]);
});

test('an audit entry has the summary and the text diff', () => {
  const v1 = nextConfigVersion(undefined, V1, 'alice', 1_000);
  const v2 = nextConfigVersion(v1, V2, 'bob', 2_000);
  const entry = auditConfigChange('acme', { version: v1, config: loadConfigOrThrow(V1) }, { version: v2, config: loadConfigOrThrow(V2) });
  assert.equal(entry.fromVersion, 1);
  assert.equal(entry.toVersion, 2);
  assert.equal(entry.author, 'bob');
  assert.equal(entry.summary.length, 4);
  assert.ok(entry.diff.startsWith('--- acme v1\n+++ acme v2\n@@ '));
  assert.ok(entry.diff.includes('-    aggregation: { function: max, window: 5m }\n+    aggregation: { function: max, window: 10m }\n'));
  const v3 = nextConfigVersion(v2, V2 + '# tidy\n', 'carol', 3_000);
  const cosmetic = auditConfigChange('acme', { version: v2, config: loadConfigOrThrow(V2) }, { version: v3, config: loadConfigOrThrow(v3.text) });
  assert.deepEqual(cosmetic.summary, ['comments or formatting only']);
  const first = auditConfigChange('acme', undefined, { version: v1, config: loadConfigOrThrow(V1) });
  assert.equal(first.fromVersion, undefined);
  assert.ok(first.diff.startsWith('--- /dev/null\n+++ acme v1\n@@ -0,0 +1,18 @@\n'));
});
