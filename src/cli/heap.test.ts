import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyHeapGrowth, DEFAULT_HEAP_GROWTH_PERCENT } from './heap.ts';
import { main } from './main.ts';

test('--heap-growth-percent: whole percents 0-1000, default when absent', () => {
  assert.equal(applyHeapGrowth(undefined), DEFAULT_HEAP_GROWTH_PERCENT);
  assert.equal(applyHeapGrowth('0'), 0);
  assert.equal(applyHeapGrowth('35'), 35);
  for (const bad of ['', 'abc', '-5', '1.5', '2000', '20%']) {
    assert.throws(() => applyHeapGrowth(bad), (e: Error & { code?: string; field?: string }) => e.code === 'TM_ERR_USAGE' && /--heap-growth-percent/.test(`${e.field} ${e.message}`), bad);
  }
  applyHeapGrowth(undefined);
});

test('serve and worker refuse a bad --heap-growth-percent before starting anything', async () => {
  for (const cmd of ['serve', 'worker']) {
    let err = '';
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
    try {
      const code = await main([cmd, '--heap-growth-percent', 'lots', ...(cmd === 'worker' ? ['--nats', 'nats://127.0.0.1:1', '--postgres', 'postgres://127.0.0.1:1/x'] : ['--data', '/nonexistent/never-created'])]);
      assert.notEqual(code, 0, cmd);
    } finally {
      process.stderr.write = write;
    }
    assert.match(err, /heap-growth-percent/, cmd);
  }
});
