/**
 * Node options of every real DIBS process (`npm start`, `npm run dibs`, devnet nodes, a detached
 * `node start`): package.json's scripts pass them on the command line, and the CLI passes them on to
 * the node processes it starts (main.ts). Benchmarks start their nodes with the same list.
 */

/** Export condition under which the @dibs packages resolve to their compiled dist/ modules. */
export const DIST_CONDITION = 'dibs-dist';

/**
 * V8 settings, each kept because a benchmark moved:
 * - one V8 platform thread instead of one per core: an idle node needs no parallel GC or compilation
 *   (~2 MiB RSS less per process);
 * - a young generation of at most 2 × 2 MiB. The data path allocates a buffer per record outside the
 *   heap; frequent small scavenges free them as they die, where V8's default (a young generation
 *   growing to 2 × 64 MiB) let them pile up until the global limit forced full mark-compacts of the
 *   whole heap, 6–9 per 512 MiB tunnelled (bench/tunnel: `dibs connect` 590 → 683 MB/s, no
 *   mark-compact left). It also keeps an idle node ~25 MiB smaller and its memory per tunnel
 *   steady, instead of jumping with the young generation's growth.
 */
export const DIBS_V8_OPTIONS = ['--v8-pool-size=1', '--max-semi-space-size=2'] as const;

/** Everything a compiled run passes to node: the dist condition and the V8 settings. */
export const DIBS_NODE_OPTIONS = [`--conditions=${DIST_CONDITION}`, ...DIBS_V8_OPTIONS] as const;
