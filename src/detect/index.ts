// Detectors and their fusion: the contract, the registry, the default profile, and the
// checkpoint helpers. Imports no HTTP, database or bus code.
export type { Conditioning, Detector, DetectorEntry, DetectorSet, FusedVerdict, Reason, ReasonClass, Verdict } from './types.ts';
export { newFusedVerdict, newVerdict, reasonClass } from './types.ts';
export { detectorNames, getDetector } from './registry.ts';
export { DEFAULT_PROFILE, createDetectorSet } from './fusion.ts';
export { type StateSnapshot, restoreState, snapshotState, stateBytes } from './state.ts';
export { REPORT_MIN, hill } from './define.ts';
