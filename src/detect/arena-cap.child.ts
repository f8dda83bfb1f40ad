// Child process of arena-cap.test.ts: run with TIDEMARK_ARENA_MAX_MB=16, it fills the arena with
// default-profile states, then streams one series through a state inside the arena and one
// outside it, and prints what it saw as JSON.
import { createDetectorSet } from './fusion.ts';
import { newFusedVerdict } from './types.ts';
import { kernelsStatus } from './kernels.ts';
import { Rng, arenaBytesInUse, inArena } from '../series/index.ts';

const set = createDetectorSet();
const states: Float64Array[] = [];
for (let i = 0; i < 8000; i++) states.push(set.init() as Float64Array);
const a = states[0];
const b = states[states.length - 1];
const r = new Rng(5);
const va = newFusedVerdict();
const vb = newFusedVerdict();
let diffs = 0;
let alerts = 0;
const t0 = Date.UTC(2026, 0, 5);
for (let i = 0; i < 4 * 288; i++) {
  let x = 100 * (1 + 0.3 * Math.sin((2 * Math.PI * i) / 288)) * (1 + 0.03 * r.normal());
  if (i % 397 === 300) x *= 8;
  const t = t0 + i * 300_000;
  set.update(a, t, x, va);
  set.update(b, t, x, vb);
  if (va.score >= 0.5) alerts++;
  if (!Object.is(va.score, vb.score) || !Object.is(va.expected, vb.expected) || !Object.is(va.upper, vb.upper) || va.reasons.join() !== vb.reasons.join()) diffs++;
}
console.log(JSON.stringify({ kernels: kernelsStatus(), firstInArena: inArena(a.buffer), lastInArena: inArena(b.buffer), arenaBytes: arenaBytesInUse(), diffs, alerts }));
