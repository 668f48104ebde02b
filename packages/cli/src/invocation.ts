import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The subcommands (and the global-option form) a `dibs …` hint can start with. */
const SUBCOMMANDS = 'init|up|id|chain|access|node|service|connect|proxy|status|devnet|--';
const HINT = new RegExp(`(^|[\\s\`'"(])dibs (?=(?:${SUBCOMMANDS})\\b)`, 'g');

/**
 * True when an executable named `dibs` is on the user's PATH (an npm link or global install).
 * `node_modules/.bin` directories do not count: npm puts them on PATH only while it runs a script
 * (`npm run dibs`), and the user's shell does not have them.
 */
export function dibsOnPath(env: NodeJS.ProcessEnv = process.env): boolean {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || /[\\/]node_modules[\\/]\.bin[\\/]?$/.test(dir)) continue;
    try {
      accessSync(join(dir, 'dibs'), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** How a user runs the CLI here: `dibs` when on PATH, else the script of a clone, `npm run dibs --`. */
export function dibsInvocation(env: NodeJS.ProcessEnv = process.env): string {
  return dibsOnPath(env) ? 'dibs' : 'npm run dibs --';
}

let invocation: string | undefined;

/**
 * Rewrites the `dibs <command>` hints in a text the CLI prints (its own and the node's) into the
 * command that runs here.
 */
export function runnableHints(text: string): string {
  invocation ??= dibsInvocation();
  return invocation === 'dibs' ? text : text.replace(HINT, `$1${invocation} `);
}

/** The CLI's version, from its package.json (the same file beside src/ and dist/). */
export function cliVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
