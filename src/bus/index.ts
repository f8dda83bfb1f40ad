// The bus: partitioned durable logs and compare-and-set leases, in-process or on NATS JetStream.
export type { Bus, BusMessage, CasKv, KvEntry, PartitionReader } from './types.ts';
export { DEFAULT_PARTITIONS, MAX_PARTITIONS, partitionOf } from './types.ts';
export { MemoryBus, MemoryKv, type MemoryBusOptions } from './memory.ts';
export { JetStreamBus, openJetStreamBus, type JetStreamBusOptions } from './jetstream.ts';
export { Leases, type Lease } from './lease.ts';
