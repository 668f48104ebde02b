import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { NetworkStatus } from './network.ts';

/** What a running node tells other commands about itself (`<data dir>/run/node.json`). */
export interface RuntimeInfo {
  pid: number;
  startedAt: string;
  address: string;
  chainId: number;
  rpcUrl: string;
  embeddedChain: boolean;
  anvilPid?: number | undefined;
  /** The p2p node's PeerId, multiaddrs and peers, rewritten every few seconds while it runs. */
  p2p?: NetworkStatus | undefined;
  /** The management API: its base URL and the file holding its bearer token (never the token itself). */
  api?: { url: string; tokenFile: string } | undefined;
}

/** Writes the runtime file atomically (temp file + rename), so readers never see half of it. */
export function writeRuntimeInfo(path: string, info: RuntimeInfo): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

/** The running node's info, or null when none runs (a file left by a dead process counts as none). */
export function readRuntimeInfo(path: string): RuntimeInfo | null {
  if (!existsSync(path)) return null;
  let info: RuntimeInfo;
  try {
    info = JSON.parse(readFileSync(path, 'utf8')) as RuntimeInfo;
  } catch {
    return null;
  }
  if (typeof info.pid !== 'number' || !isAlive(info.pid)) return null;
  return info;
}

/** Removes the runtime file (at stop). */
export function removeRuntimeInfo(path: string): void {
  rmSync(path, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
