import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Every file DIBS keeps in its data directory, in one place. */
export interface DataPaths {
  root: string;
  config: string;
  keystore: string;
  identity: string;
  database: string;
  chainDir: string;
  runDir: string;
  runtime: string;
  logDir: string;
}

/** The data directory: `--data-dir`, else `$DIBS_HOME`, else `~/.dibs`. */
export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.DIBS_HOME ?? join(homedir(), '.dibs'));
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    config: join(root, 'config.json'),
    keystore: join(root, 'keystore.json'),
    identity: join(root, 'identity.json'),
    database: join(root, 'dibs.db'),
    chainDir: join(root, 'chain'),
    runDir: join(root, 'run'),
    runtime: join(root, 'run', 'node.json'),
    logDir: join(root, 'logs'),
  };
}
