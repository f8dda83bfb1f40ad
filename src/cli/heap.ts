import { setFlagsFromString } from 'node:v8';
import { TidemarkError } from '../errors.ts';

/**
 * The long-running commands' heap policy. V8 lets its heap grow to about 1.5-4x the live size
 * before a full collection (more while the heap grows fast, as when a million series appear).
 * For a service whose memory is mostly live series state that is wasted resident memory:
 * with 1,000,000 series the heap right after loading them held 975 MiB of which 538 MiB were
 * live (heap snapshot), and `--heap-growth-percent 20` took the process from 4.44 to 4.11 GiB
 * RSS with the same load time (`node --import tsx src/api/ingest.bench.ts --seconds 1
 * --prometheus-seconds 0 --memory-series 1000000`). Full collections mark concurrently (on
 * another core) and most ingest garbage dies young, so the steady state pays little for it;
 * see the ingest benchmark's GC share. This is Go's GOGC, in V8's terms.
 */
export const DEFAULT_HEAP_GROWTH_PERCENT = 20;

export const HEAP_GROWTH_HELP = `  --heap-growth-percent N
                       a full GC runs once the heap grew N% past its live size (default
                       ${DEFAULT_HEAP_GROWTH_PERCENT}; lower: less memory, more GC work; 0: V8's own policy, 50-300%)`;

/** Parses `--heap-growth-percent` and applies it to V8 (before the big allocations start). */
export function applyHeapGrowth(text: string | undefined): number {
  const raw = text ?? String(DEFAULT_HEAP_GROWTH_PERCENT);
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !(n >= 0 && n <= 1000)) {
    throw new TidemarkError('TM_ERR_USAGE', `expected a whole number of percent from 0 to 1000, got ${JSON.stringify(raw)}`, '--heap-growth-percent');
  }
  // 0 is V8's default for the flag: its own, adaptive factor.
  setFlagsFromString(`--heap-growing-percent=${n}`);
  return n;
}
