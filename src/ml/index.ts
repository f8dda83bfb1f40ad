// Models over feature vectors: the Isolation Forest and its streaming, per-entity form.
// Imports no HTTP, database or bus code.
export { type Contribution, type ForestData, type ForestOptions, DEFAULT_FOREST_OPTIONS, ForestBuilder, IsolationForest, averagePathLength, contributions, featureStats, fitForest } from './iforest.ts';
export { type StreamingForestData, type StreamingForestOptions, DEFAULT_STREAMING_OPTIONS, StreamingForest, whitening } from './stream.ts';
