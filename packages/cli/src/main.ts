#!/usr/bin/env node
import { runCli } from './program.ts';

/** Export condition under which the @dibs packages resolve to their compiled dist/ modules. */
const DIST_CONDITION = 'dibs-dist';

/** Whether node was started with `--conditions=dibs-dist` (or `-C dibs-dist`) on its command line. */
function startedWithDistCondition(execArgv: string[]): boolean {
  return execArgv.some(
    (arg, i) =>
      arg === `--conditions=${DIST_CONDITION}` ||
      arg === `-C=${DIST_CONDITION}` ||
      ((arg === '--conditions' || arg === '-C') && execArgv[i + 1] === DIST_CONDITION),
  );
}

// Node processes the CLI starts (devnet nodes, the devnet demo service) must load the packages the
// way this one did; child processes do not inherit execArgv, but they do inherit NODE_OPTIONS.
if (startedWithDistCondition(process.execArgv)) {
  const options = process.env.NODE_OPTIONS ?? '';
  if (!options.includes(`--conditions=${DIST_CONDITION}`)) {
    process.env.NODE_OPTIONS = `${options} --conditions=${DIST_CONDITION}`.trim();
  }
}

process.exitCode = await runCli(process.argv.slice(2));
