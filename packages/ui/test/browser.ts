/**
 * What the browser suites share: Debian's Chromium through playwright-core (never a downloaded
 * browser), the UI built into a temp folder, and a cleanup that leaves no browser process behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = '/usr/bin/chromium';
const UI_DIR = fileURLToPath(new URL('..', import.meta.url));
/** Where screenshots go (gitignored). */
export const SHOTS = fileURLToPath(new URL('../../../test-artifacts/screenshots/', import.meta.url));
/** Flags this machine's closed network needs (see FACTS.md), headless. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** In CI a missing browser is a failure (CI installs it); elsewhere the suite says what to install. */
export const chromiumSkip: string | false =
  existsSync(CHROMIUM) || process.env.CI
    ? false
    : `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`;

/** Builds the UI into `outDir`. */
export async function buildUi(outDir: string): Promise<void> {
  await build({
    root: UI_DIR,
    configFile: join(UI_DIR, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
}

/** Chromium with a fresh profile at `profile`, 1280×800. */
export function launchBrowser(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
}

/** Closes the browser and kills any of its processes still running (found by their profile dir). */
export async function closeBrowser(
  context: BrowserContext | undefined,
  profile: string | undefined,
): Promise<void> {
  await context?.close().catch(() => {});
  if (!profile) return;
  for (const pid of childPids(profile)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** PIDs of processes whose command line mentions `marker`. */
function childPids(marker: string): number[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length > 2 && f.slice(2).join(' ').includes(marker))
      .map((f) => Number(f[0]))
      .filter((pid) => pid !== process.pid);
  } catch {
    return [];
  }
}
