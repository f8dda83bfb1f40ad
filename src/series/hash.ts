/**
 * FNV-1a (32-bit) over a string's UTF-16 code units: tiny, stable across runs and processes,
 * good enough where keys only need spreading (partitions, seeds). Returned unsigned.
 * For well-mixed hashes of many keys (sketches), explain/heavy.ts has MurmurHash3.
 */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
