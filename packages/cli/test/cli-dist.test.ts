/**
 * The compiled CLI (scripts/compile.ts, the last step of `npm run build`) as `npm start` and
 * `npm run dibs` run it: `node --conditions=dibs-dist packages/cli/dist/main.js`. Every run here also
 * passes --no-experimental-strip-types, so a single TypeScript module reached from dist fails it.
 * viem is reached only through the tree-shaken bundle compile.ts writes to packages/chain/dist/vendor/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DIBS_NODE_OPTIONS } from '../src/node-options.ts';
import { type CliRun, lastJson, runNode, tempHome } from './cli-helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIST_MAIN = join(ROOT, 'packages/cli/dist/main.js');
const COMPILE = join(ROOT, 'scripts/compile.ts');
/** The flags `npm start` / `npm run dibs` give node, plus the one that refuses TypeScript. */
const DIST_FLAGS = ['--no-experimental-strip-types', '--conditions=dibs-dist'];
/** The viem bundle compile.ts writes. */
const VENDOR = join(ROOT, 'packages/chain/dist/vendor');

/** Runs node with `args` to completion, bounded by `timeoutMs`, with no DIBS_* or NODE_OPTIONS from outside. */
function run(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliRun> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('DIBS_') && k !== 'NODE_OPTIONS') clean[k] = v;
  }
  return runNode(args, { ...clean, ...env }, timeoutMs, undefined, ROOT);
}

function jsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) jsFiles(path, out);
    else if (name.endsWith('.js')) out.push(path);
  }
  return out;
}

const home = tempHome();
after(() => home.cleanup());

before(async () => {
  const built = await run([COMPILE]);
  assert.equal(built.code, 0, `scripts/compile.ts failed:\n${built.stderr}`);
});

test('npm start and npm run dibs run node with every DIBS node option', () => {
  const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts as Record<
    string,
    string
  >;
  for (const name of ['start', 'dibs']) {
    const argv = scripts[name]!.split(/\s+/);
    for (const option of DIBS_NODE_OPTIONS) assert.ok(argv.includes(option), `${name} lacks ${option}`);
  }
});

test('every dibs-dist export names a compiled module, and no compiled module names a .ts file', () => {
  const packages = join(ROOT, 'packages');
  let exportsSeen = 0;
  for (const pkg of readdirSync(packages)) {
    const manifest = JSON.parse(readFileSync(join(packages, pkg, 'package.json'), 'utf8')) as {
      exports?: Record<string, string | Record<string, string>>;
    };
    for (const [sub, target] of Object.entries(manifest.exports ?? {})) {
      assert.equal(typeof target, 'object', `${pkg} export ${sub} has no dibs-dist condition`);
      const t = target as Record<string, string>;
      assert.match(t['dibs-dist'] ?? '', /^\.\/dist\/.+\.js$/, `${pkg} export ${sub}`);
      assert.match(t.default ?? '', /^\.\/src\/.+\.ts$/, `${pkg} export ${sub}`);
      assert.ok(statSync(join(packages, pkg, t.default!)).isFile(), `${pkg} ${t.default} missing`);
      assert.ok(statSync(join(packages, pkg, t['dibs-dist']!)).isFile(), `${pkg} ${t['dibs-dist']} missing`);
      exportsSeen++;
    }
    let files: string[] = [];
    try {
      files = jsFiles(join(packages, pkg, 'dist'));
    } catch {}
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, /\bfrom\s+["']\.{1,2}\/[^"']*\.ts["']/, file);
      assert.doesNotMatch(text, /\bimport\(\s*["']\.{1,2}\/[^"']*\.ts["']/, file);
      assert.doesNotMatch(text, /new URL\(\s*["']\.{1,2}\/[^"']*\.ts["'],\s*import\.meta\.url/, file);
    }
  }
  assert.ok(exportsSeen >= 6, `only ${exportsSeen} package exports found`);
});

test('compiled CLI prints its help without loading any TypeScript', async () => {
  const r = await run([...DIST_FLAGS, DIST_MAIN, '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: dibs/);
  assert.match(r.stdout, /\bup\b/);
});

test('without the dibs-dist condition the packages resolve to sources (which this run refuses)', async () => {
  const r = await run(['--no-experimental-strip-types', DIST_MAIN, '--help']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION|\.ts/);
});

test('compiled CLI: init, then id show --json on a temp data dir', async () => {
  const dataDir = join(home.root, 'node');
  const init = await run([...DIST_FLAGS, DIST_MAIN, '--data-dir', dataDir, 'init'], home.env);
  assert.equal(init.code, 0, init.stderr);
  const show = await run([...DIST_FLAGS, DIST_MAIN, '--data-dir', dataDir, 'id', 'show', '--json'], home.env);
  assert.equal(show.code, 0, show.stderr);
  const id = JSON.parse(show.stdout) as { address: string; peerId: string; keystore: string };
  assert.match(id.address, /^0x[0-9a-fA-F]{40}$/);
  assert.match(id.peerId, /^16Uiu2/);
  assert.equal(id.keystore, join(dataDir, 'keystore.json'));
  assert.match(init.stdout, new RegExp(id.address));
});

/** Every static or dynamic module specifier in a compiled file. */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const forms = [
    /^\s*(?:import|export)\s[^'"]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of forms) {
    for (const m of text.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

test('no compiled module loads viem from node_modules; they use the self-contained vendor bundle', () => {
  const packages = join(ROOT, 'packages');
  const compiled: string[] = [];
  for (const pkg of readdirSync(packages)) {
    for (const dir of ['dist', 'generated']) {
      try {
        jsFiles(join(packages, pkg, dir), compiled);
      } catch {}
    }
  }
  let vendorUsers = 0;
  for (const file of compiled) {
    const specs = specifiers(readFileSync(file, 'utf8'));
    for (const spec of specs) assert.doesNotMatch(spec, /^viem(\/|$)/, `${file} imports ${spec}`);
    if (file.startsWith(VENDOR)) {
      // The bundle carries viem's own dependencies (ox, abitype, @noble, @scure) inside it.
      for (const spec of specs) assert.match(spec, /^(node:|\.\/)/, `${file} imports ${spec}`);
    } else if (specs.some((s) => /\/chain\/dist\/vendor\/viem\.js$|^\.\/vendor\/viem\.js$/.test(s))) {
      vendorUsers++;
    }
  }
  assert.ok(statSync(join(VENDOR, 'viem.js')).isFile());
  assert.ok(statSync(join(VENDOR, 'viem-accounts.js')).isFile());
  assert.ok(vendorUsers >= 5, `only ${vendorUsers} compiled modules import the viem bundle`);
});

test('compiled CLI: dibs up on a fresh data dir starts chain, contracts, identity and p2p, then stops', async () => {
  const dataDir = join(home.root, 'up');
  const r = await run(
    [...DIST_FLAGS, DIST_MAIN, '--data-dir', dataDir, '--json', 'up', '--exit-after-start'],
    home.env,
  );
  assert.equal(r.code, 0, r.stderr);
  const up = lastJson<{
    status: string;
    address: string;
    chain: { embedded: boolean; deployment: string; contracts: Record<string, string> };
    identity: { registered: boolean; action: string };
    network: { multiaddrs: string[] } | null;
  }>(r.stdout);
  assert.equal(up.status, 'running');
  assert.equal(up.chain.embedded, true);
  assert.equal(up.chain.deployment, 'deployed');
  assert.ok(Object.keys(up.chain.contracts).length >= 3, JSON.stringify(up.chain.contracts));
  assert.equal(up.identity.action, 'registered');
  assert.equal(up.identity.registered, true);
  assert.ok(up.network && up.network.multiaddrs.length > 0, 'p2p listens');
});
