// Ingest: request bodies (bytes) to validated samples in a reusable columnar batch.
export type {
  IngestOptions,
  RejectReason,
  RejectionExample,
  RejectionSummary,
  SampleRecord,
  SampleSink,
  SeriesKind,
} from './types.ts';
export { REJECT_REASONS } from './types.ts';
export { DEFAULT_INGEST_OPTIONS, IngestBatch, STALE_FLAG } from './batch.ts';
export { DEFAULT_MAX_DECODED_BYTES, decompressSnappy, maybeGunzip } from './compression.ts';
export { decodeRemoteWrite, decodeWriteRequest } from './remote-write.ts';
export type { RemoteWriteOptions } from './remote-write.ts';
export { decodeOtlpProtobuf } from './otlp-protobuf.ts';
export { decodeOtlpJson } from './otlp-json.ts';
export type { OtlpOptions } from './otlp.ts';
export { decodeLineProtocol } from './line-protocol.ts';
export type { LineProtocolOptions, Precision } from './line-protocol.ts';
export { decodeJsonBatch } from './json-batch.ts';
