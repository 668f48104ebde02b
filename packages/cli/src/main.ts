#!/usr/bin/env node
// First: V8 flags must be set before the node's modules allocate.
import './v8-flags.ts';
import { DIBS_NODE_OPTIONS, DIST_CONDITION } from './node-options.ts';
import { runCli } from './program.ts';

/** Whether node was started with `--conditions=dibs-dist` (or `-C dibs-dist`) on its command line. */
function startedWithDistCondition(execArgv: string[]): boolean {
  return execArgv.some(
    (arg, i) =>
      arg === `--conditions=${DIST_CONDITION}` ||
      arg === `-C=${DIST_CONDITION}` ||
      ((arg === '--conditions' || arg === '-C') && execArgv[i + 1] === DIST_CONDITION),
  );
}

// Only the compiled form (npm start, npm run dibs, devnet nodes) passes these on; tests run the
// sources with node's defaults. (--optimize-for-size saved ~5 MiB idle but cost ~23% stream
// throughput, so it is not set.)
const distRun =
  startedWithDistCondition(process.execArgv) ||
  (process.env.NODE_OPTIONS ?? '').includes(`--conditions=${DIST_CONDITION}`);
if (distRun) {
  // Child processes do not inherit execArgv, but they do inherit NODE_OPTIONS.
  const options = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  for (const option of DIBS_NODE_OPTIONS) if (!options.includes(option)) options.push(option);
  process.env.NODE_OPTIONS = options.join(' ');
}

process.exitCode = await runCli(process.argv.slice(2));
