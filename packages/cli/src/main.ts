#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

/** Export condition under which the @dibs packages resolve to their compiled dist/ modules. */
const DIST_CONDITION = 'dibs-dist';
/**
 * Node options a real run (the compiled form) passes on to the node processes it starts: the dist
 * condition, and one V8 platform thread instead of one per core (an idle node needs no parallel GC
 * or compilation; measured ~2 MiB RSS less per process).
 */
const CHILD_NODE_OPTIONS = [`--conditions=${DIST_CONDITION}`, '--v8-pool-size=1'];
/**
 * V8 flags a real run sets for itself before it loads any module: smaller heap growth and code
 * (measured ~5 MiB less idle RSS for `dibs up`). Not accepted in NODE_OPTIONS, so set here.
 */
const RUNTIME_V8_FLAGS = ['--optimize-for-size'];

/** Whether node was started with `--conditions=dibs-dist` (or `-C dibs-dist`) on its command line. */
function startedWithDistCondition(execArgv: string[]): boolean {
  return execArgv.some(
    (arg, i) =>
      arg === `--conditions=${DIST_CONDITION}` ||
      arg === `-C=${DIST_CONDITION}` ||
      ((arg === '--conditions' || arg === '-C') && execArgv[i + 1] === DIST_CONDITION),
  );
}

// Only the compiled form (npm start, npm run dibs, devnet nodes) is tuned; tests run the sources
// with node's defaults.
const distRun =
  startedWithDistCondition(process.execArgv) ||
  (process.env.NODE_OPTIONS ?? '').includes(`--conditions=${DIST_CONDITION}`);
if (distRun) {
  for (const flag of RUNTIME_V8_FLAGS) setFlagsFromString(flag);
  // Child processes do not inherit execArgv, but they do inherit NODE_OPTIONS.
  const options = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean);
  for (const option of CHILD_NODE_OPTIONS) if (!options.includes(option)) options.push(option);
  process.env.NODE_OPTIONS = options.join(' ');
}

// Imported only now, so the flags above apply to every module the CLI loads.
const { runCli } = await import('./program.ts');
process.exitCode = await runCli(process.argv.slice(2));
