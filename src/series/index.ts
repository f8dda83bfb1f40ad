// Numeric building blocks for online detectors: no per-point allocation, state in number
// arrays or typed arrays (Float64Array views of shared slabs, float32 tables read through
// their alias) that checkpoints can carry.
export { Rng, doubles, mulberry32 } from './prng.ts';
export { arenaOffset, bytesOf, floatBase, floatsOf, halfBase, halvesOf, slabDoubles } from './slab.ts';
export { type WasmMemory, Wasm, arenaBytesInUse, arenaOpen, inArena } from './arena.ts';
export { fnv1a32 } from './hash.ts';
export { finerResolution } from './resolution.ts';
export { type Slots, rollingCount, rollingCreate, rollingInit, rollingMad, rollingMadBound, rollingMeanAbsDev, rollingMedian, rollingPush, rollingPushSums, rollingRecent, rollingScale, rollingSelect, rollingSize, ringMedian, ringPush, sortedInsert, sortedMedian, sortedReplace } from './rolling.ts';
export { RANKED_MAX, rankedInit, rankedMad, rankedMadBound, rankedMedian, rankedPush, rankedPushSums, rankedScale, rankedSelect, rankedSize } from './ranked.ts';
export { EWMA_SIZE, ewmaAlpha, ewmaCount, ewmaInit, ewmaMean, ewmaPush, ewmaScale, ewmaVariance } from './ewma.ts';
export { CUSUM_SIZE, cusumDown, cusumInit, cusumPush, cusumUp } from './cusum.ts';
export { INTERVAL_RING, INTERVAL_SCALARS, INTERVAL_SIZE, intervalDeltas, intervalGet, intervalInit, intervalLast, intervalObserve } from './interval.ts';
export { type Season, type SeasonOptions, autocorrelation, detectSeason } from './season.ts';
export { DAY_MS, PF, PROFILE_SCALARS, type ProfileOptions, WEEK_MS, profileDriftInflation, profileInit, profileLearn, profilePredict, profileScale, profileTableSize } from './profile.ts';
export { TAIL_BINS, TAIL_BW, TAIL_SIZE, tailCount, tailInit, tailObserve, tailRefresh, tailRenormalise } from './tail.ts';
