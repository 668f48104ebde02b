/**
 * V8 settings of every `dibs` process, applied before the rest of the CLI loads.
 *
 * A node's socket and cipher buffers live outside the JS heap. By default V8 runs a full GC of the
 * whole heap for about every 64 MiB of such memory, which halved tunnel throughput in a process that
 * also runs a libp2p node (bench/tunnel, docs/tunnel.md). Counting that memory in V8's global limit
 * instead lets the young generation absorb it.
 */
import { setFlagsFromString } from 'node:v8';

/** The flags, also used by bench/tunnel so it measures nodes as they run for real. */
export const DIBS_V8_FLAGS = ['--external-memory-accounted-in-global-limit'] as const;

for (const flag of DIBS_V8_FLAGS) setFlagsFromString(flag);
