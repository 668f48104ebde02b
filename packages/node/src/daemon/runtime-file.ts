import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
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

function runtimeText(info: RuntimeInfo): string {
  return `${JSON.stringify(info, null, 2)}\n`;
}

/** Writes the runtime file atomically (temp file + rename), so readers never see half of it. */
export function writeRuntimeInfo(path: string, info: RuntimeInfo): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, runtimeText(info), { mode: 0o644 });
  renameSync(tmp, path);
}

/** Keeps a running node's runtime file current; see {@link runtimeFileUpdater}. */
export interface RuntimeFileUpdater {
  /** Rewrites the file if `info` differs from what it holds; never blocks the event loop. */
  update(info: RuntimeInfo): void;
  /** Waits for a write under way, then removes the file; later updates are ignored. */
  remove(): Promise<void>;
}

/**
 * The runtime file of a running node, rewritten only when its content changes and off the event
 * loop (a synchronous write + rename every few seconds stalled API requests by tens of ms on a busy
 * disk). The first write, before the node reports itself running, stays synchronous: `writeRuntimeInfo`.
 */
export function runtimeFileUpdater(path: string, written: RuntimeInfo): RuntimeFileUpdater {
  let last = runtimeText(written);
  let next: string | undefined;
  let busy: Promise<void> | undefined;
  let removed = false;
  const tmp = `${path}.${process.pid}.tmp`;
  const drain = async () => {
    while (next !== undefined && !removed) {
      const text = next;
      next = undefined;
      try {
        await writeFile(tmp, text, { mode: 0o644 });
        if (removed) break;
        await rename(tmp, path);
        last = text;
      } catch {
        // A full or read-only disk: the next change tries again; readers keep the previous file.
      }
    }
  };
  return {
    update(info) {
      if (removed) return;
      const text = runtimeText(info);
      if (text === last) {
        next = undefined;
        return;
      }
      next = text;
      busy ??= drain().finally(() => {
        busy = undefined;
      });
    },
    async remove() {
      removed = true;
      await busy;
      rmSync(tmp, { force: true });
      removeRuntimeInfo(path);
    },
  };
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
