/**
 * Packs the CLI as one installable tarball: `npm install -g dibs-<version>.tgz` gives a `dibs`
 * command with no workspace and no build step. The workspace packages it needs (@dibs/*, compiled by
 * `npm run build`) ship inside it as their compiled output, in the repository's layout
 * (packages/<name>/dist, so paths between them such as the web UI's files hold), with every
 * `@dibs/...` import specifier rewritten to the relative path of the module the package's exports
 * name. Third-party dependencies are listed at the versions this checkout's lock file installed, so
 * the tarball installs what the tests ran. (npm's bundleDependencies would need every dependency of
 * a bundled package bundled too: hundreds of packages and platform binaries in the tarball.)
 *
 * Usage: node scripts/pack.ts [--out <dir>] [--json]   (prints the tarball's path)
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Workspace packages shipped besides those the CLI depends on: the web UI (built files only). */
const EXTRA = ['@dibs/ui'];
/** Dependencies needed only to build (the Solidity compiler) or already built into dist (the UI's). */
const BUILD_ONLY = new Set(['solc', '@openzeppelin/contracts', 'preact']);
/** What of a workspace package is shipped: compiled output, generated modules, its package.json. */
const SKIP_DIRS = new Set(['src', 'test', 'node_modules', 'scripts', 'contracts', 'public']);
/** An import of a workspace package in compiled JavaScript: `from '@dibs/x'`, `import('@dibs/x/y')`. */
const WORKSPACE_IMPORT =
  /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(@dibs\/[a-z0-9-]+(?:\/[a-z0-9-]+)?)\2/g;

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  exports?: Record<string, Record<string, string> | string>;
  [key: string]: unknown;
}

/** Thrown when the tree is not ready to pack. */
export class PackError extends Error {
  readonly code = 'PACK_FAILED';
  override name = 'PackError';
}

function readJson(path: string): PackageJson {
  return JSON.parse(readFileSync(path, 'utf8')) as PackageJson;
}

/** Directory of each workspace package by name. */
function workspaces(): Map<string, string> {
  // The root package.json's workspaces are `packages/*`.
  const out = new Map<string, string>();
  for (const name of readdirSync(join(ROOT, 'packages'))) {
    const file = join(ROOT, 'packages', name, 'package.json');
    if (existsSync(file)) out.set(readJson(file).name, dirname(file));
  }
  return out;
}

/** The installed version of `dep` as seen from `dir` (its own node_modules first, then the root's). */
function installedVersion(dep: string, dir: string): string {
  for (const base of [join(dir, 'node_modules'), join(ROOT, 'node_modules')]) {
    const file = join(base, dep, 'package.json');
    if (existsSync(file)) return readJson(file).version;
  }
  throw new PackError(`${dep} is not installed: run npm install first`);
}

/** The compiled file each export of a workspace package names (its `dibs-dist` entry). */
function distEntries(name: string, dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(readJson(join(dir, 'package.json')).exports ?? {})) {
    const dist = typeof value === 'string' ? value : value['dibs-dist'];
    if (!dist) throw new PackError(`${name}: export ${key} has no compiled (dibs-dist) entry`);
    out.set(key === '.' ? name : `${name}/${key.slice(2)}`, join(dir, dist));
  }
  return out;
}

/** Copies a workspace package's shippable files (no sources, no tests) into `to`. */
function copyPackage(from: string, to: string, name: string): void {
  const built = join(from, name === '@dibs/ui' ? 'dist/index.html' : 'dist');
  if (!existsSync(built)) throw new PackError(`${name} is not built (${built} missing): run npm run build`);
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = relative(from, src);
      if (rel === '') return true;
      const top = rel.split(sep)[0]!;
      if (SKIP_DIRS.has(top)) return false;
      // The web UI ships as built (Vite's output); its sources and config stay behind.
      if (name === '@dibs/ui' && top !== 'dist' && top !== 'package.json') return false;
      return !/\.(ts|tsx|map)$/.test(rel);
    },
  });
}

/** Every .js file below `dir`. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((rel) => rel.endsWith('.js'))
    .map((rel) => join(dir, rel));
}

/** Builds the tarball into `outDir`; returns its path. */
export function packCli(outDir: string): string {
  const root = readJson(join(ROOT, 'package.json'));
  const spaces = workspaces();
  const cliDir = spaces.get('@dibs/cli');
  if (!cliDir || !existsSync(join(cliDir, 'dist', 'main.js')))
    throw new PackError('the CLI is not built (packages/cli/dist/main.js missing): run npm run build');

  // The workspace packages the CLI reaches, and every third-party dependency of them all.
  const shipped = new Set<string>();
  const third = new Map<string, string>();
  const visit = (name: string) => {
    if (shipped.has(name)) return;
    const dir = spaces.get(name);
    if (!dir) throw new PackError(`workspace package ${name} not found`);
    shipped.add(name);
    for (const dep of Object.keys(readJson(join(dir, 'package.json')).dependencies ?? {})) {
      if (spaces.has(dep)) visit(dep);
      else if (!BUILD_ONLY.has(dep) && !third.has(dep)) third.set(dep, installedVersion(dep, dir));
    }
  };
  visit('@dibs/cli');
  for (const name of EXTRA) visit(name);

  const stage = mkdtempSync(join(tmpdir(), 'dibs-pack-'));
  try {
    const at = (dir: string) => join(stage, relative(ROOT, dir));
    const entries = new Map<string, string>();
    for (const name of shipped) {
      const dir = spaces.get(name)!;
      copyPackage(dir, at(dir), name);
      for (const [specifier, file] of distEntries(name, dir)) entries.set(specifier, at(file));
    }
    for (const name of shipped) {
      for (const file of jsFiles(at(spaces.get(name)!))) {
        const text = readFileSync(file, 'utf8');
        const rewritten = text.replace(
          WORKSPACE_IMPORT,
          (_whole, lead: string, quote: string, spec: string) => {
            const target = entries.get(spec);
            if (!target)
              throw new PackError(`${relative(stage, file)} imports ${spec}, which is not shipped`);
            let rel = relative(dirname(file), target).split(sep).join('/');
            if (!rel.startsWith('.')) rel = `./${rel}`;
            return `${lead}${quote}${rel}${quote}`;
          },
        );
        if (rewritten !== text) writeFileSync(file, rewritten);
      }
    }
    // The command: node with the options every real DIBS process runs with (see node-options.ts).
    const options = (
      JSON.parse(
        execFileSync(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `import { DIBS_NODE_OPTIONS } from ${JSON.stringify(join(cliDir, 'src', 'node-options.ts'))}; console.log(JSON.stringify(DIBS_NODE_OPTIONS))`,
          ],
          { encoding: 'utf8' },
        ),
      ) as string[]
    ).join(' ');
    mkdirSync(join(stage, 'bin'));
    const main = relative(stage, join(at(cliDir), 'dist', 'main.js'))
      .split(sep)
      .join('/');
    writeFileSync(
      join(stage, 'bin', 'dibs.js'),
      `#!/usr/bin/env -S node ${options}\nimport '../${main}';\n`,
      {
        mode: 0o755,
      },
    );
    cpSync(join(ROOT, 'README.md'), join(stage, 'README.md'));
    const manifest = {
      name: 'dibs',
      version: root.version,
      description: root.description,
      license: root.license,
      type: 'module',
      engines: { node: '>=24' },
      bin: { dibs: 'bin/dibs.js' },
      files: ['bin', 'packages', 'README.md'],
      dependencies: Object.fromEntries([...third].sort(([a], [b]) => a.localeCompare(b))),
    };
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(outDir, { recursive: true });
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', resolve(outDir)], {
      cwd: stage,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [info] = JSON.parse(out) as Array<{ filename: string }>;
    if (!info) throw new PackError('npm pack reported no tarball');
    return join(resolve(outDir), info.filename);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out');
  const outDir = at >= 0 && args[at + 1] ? args[at + 1]! : ROOT;
  try {
    const file = packCli(outDir);
    console.log(args.includes('--json') ? JSON.stringify({ tarball: file }) : file);
  } catch (err) {
    process.stderr.write(`pack: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
