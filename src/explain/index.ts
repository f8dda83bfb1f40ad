export { LeafTableBuilder, parseLeafCsv } from './table.ts';
export type { LeafTable } from './table.ts';
export { localize, localizeRatio, formatElement } from './localize.ts';
export type { LocalizeOptions, RootCauseResult, RootCauseElement, DimensionValue } from './localize.ts';
export { SpaceSaving, CountMinSketch, hash32, hashInt32 } from './heavy.ts';
export type { HeavyHitter } from './heavy.ts';
export { parseElementSet, scoreCase, addCounts, rcaScore, elementKey } from './score.ts';
export type { ElementPairs, RcaCounts, RcaScore } from './score.ts';
