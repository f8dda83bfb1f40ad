// Cluster mode: stateless ingest nodes publish to the bus (samples by series, feeds by aggregate group
// and multivariate entity), workers lease partitions and run the engine.
export { ClusterWorker, type WorkerOptions, type WorkerStats } from './worker.ts';
export { serveWorkerMetrics, type MetricsServer } from './metrics.ts';
export { BusSink, type IngestSink, type PublishStats } from './ingest.ts';
export { decodeInto, encodeByPartition, peekHeader, type MessageKind, type PartitionPart } from './codec.ts';
export { decodeFeed, encodeFeeds, entityPartition, unitPartition, type Feed, type FeedConfig } from './feeds.ts';
export { CLUSTER_HELP, CLUSTER_OPTIONS, clusterSettings, openClusterNode, NATS_ENV, POSTGRES_ENV, type ClusterNode } from './node.ts';
export { changeAnnouncer, nodeAnnouncer, decodeChange, encodeChange, type ClusterChange } from './changes.ts';
