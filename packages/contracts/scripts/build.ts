/**
 * Compiles the Solidity sources in ../contracts with the bundled solc (no downloads) and writes
 * ../generated/abis.ts, ../generated/bytecode.ts and ../generated/storage-layout.ts (solc's storageLayout,
 * which light nodes use to locate the slots they prove). Skips the compiler when the sources and
 * settings hash to the same value as the last build.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The directory that holds the Solidity sources. */
export const SOURCE_DIR = join(packageRoot, 'contracts');
/** The directory the build writes (gitignored). */
export const GENERATED_DIR = join(packageRoot, 'generated');
/** Raised to force a rebuild when the shape of the generated files changes. */
const GENERATOR_VERSION = 2;
/** Source folders whose contracts are not exported (interfaces only describe other contracts). */
const SKIPPED_DIRS = new Set(['interfaces']);

/** Compiler settings: pinned EVM version, optimizer tuned for cheap calls rather than small code. */
export const COMPILER_SETTINGS = {
  evmVersion: 'cancun',
  viaIR: true,
  optimizer: { enabled: true, runs: 20_000 },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'storageLayout'] } },
} as const;

/** A compiler or build failure; the message lists every compiler error. */
export class ContractsBuildError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ContractsBuildError';
    this.code = code;
  }
}

/** One compiled contract. */
export interface CompiledContract {
  name: string;
  sourceUnit: string;
  abi: unknown[];
  bytecode: string;
  storageLayout: StorageLayout;
}

/** solc's storageLayout of one contract: its state variables and the types they use. */
export interface StorageLayout {
  storage: Array<{ label: string; slot: string; offset: number; type: string }>;
  types: Record<
    string,
    {
      encoding: string;
      label: string;
      numberOfBytes: string;
      key?: string;
      value?: string;
      base?: string;
      members?: Array<{ label: string; slot: string; offset: number; type: string }>;
    }
  > | null;
}

/** What one compilation produced. */
export interface CompileResult {
  contracts: CompiledContract[];
  warnings: string[];
}

interface SolcOutputError {
  severity: 'error' | 'warning' | 'info';
  sourceLocation?: { file: string };
  formattedMessage?: string;
  message: string;
}

interface SolcOutput {
  errors?: SolcOutputError[];
  contracts?: Record<
    string,
    Record<string, { abi: unknown[]; evm: { bytecode: { object: string } }; storageLayout: StorageLayout }>
  >;
}

interface Solc {
  compile(
    input: string,
    callbacks: { import: (path: string) => { contents: string } | { error: string } },
  ): string;
}

/** Reads every .sol file under `dir`, keyed by its source unit name (`contracts/…`). */
export function readSources(dir: string = SOURCE_DIR): Record<string, string> {
  const sources: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.sol')) {
        sources[`contracts/${relative(dir, full).split(sep).join('/')}`] = readFileSync(full, 'utf8');
      }
    }
  };
  walk(dir);
  return sources;
}

function packageVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Hash of everything that determines the build output. */
export function buildHash(sources: Record<string, string>): string {
  const h = createHash('sha256');
  h.update(
    JSON.stringify({
      generator: GENERATOR_VERSION,
      solc: packageVersion('solc'),
      openzeppelin: packageVersion('@openzeppelin/contracts'),
      settings: COMPILER_SETTINGS,
    }),
  );
  for (const [name, content] of Object.entries(sources).sort(([a], [b]) => a.localeCompare(b))) {
    h.update(`\0${name}\0${content}`);
  }
  return h.digest('hex');
}

function resolveImport(path: string): { contents: string } | { error: string } {
  if (!path.startsWith('@openzeppelin/contracts/')) {
    return { error: `import ${path} is neither a local source nor @openzeppelin/contracts` };
  }
  try {
    return { contents: readFileSync(require.resolve(path), 'utf8') };
  } catch {
    return { error: `cannot find ${path} in node_modules; run npm install` };
  }
}

/** Compiles `sources` with solc; throws ContractsBuildError listing the errors if any. */
export function compileSources(sources: Record<string, string>): CompileResult {
  const solc = require('solc') as Solc;
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([name, content]) => [name, { content }])),
    settings: COMPILER_SETTINGS,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: resolveImport })) as SolcOutput;
  const problems = output.errors ?? [];
  const errors = problems.filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    throw new ContractsBuildError(
      'SOLC_COMPILE_ERROR',
      `Solidity compilation failed with ${errors.length} error(s); fix the sources and rebuild:\n${errors
        .map((e) => e.formattedMessage ?? e.message)
        .join('\n')}`,
    );
  }
  const contracts: CompiledContract[] = [];
  for (const [sourceUnit, byName] of Object.entries(output.contracts ?? {})) {
    const folder = sourceUnit.split('/').slice(1, -1).join('/');
    if (!sourceUnit.startsWith('contracts/') || SKIPPED_DIRS.has(folder)) continue;
    for (const [name, compiled] of Object.entries(byName)) {
      contracts.push({
        name,
        sourceUnit,
        abi: compiled.abi,
        bytecode: compiled.evm.bytecode.object,
        storageLayout: compiled.storageLayout,
      });
    }
  }
  contracts.sort((a, b) => a.name.localeCompare(b.name));
  return {
    contracts,
    // Warnings inside OpenZeppelin are not ours to fix and would drown our own.
    warnings: problems
      .filter((e) => e.severity !== 'error' && !e.sourceLocation?.file.startsWith('@openzeppelin/'))
      .map((e) => e.formattedMessage ?? e.message),
  };
}

function identifier(contractName: string): string {
  return contractName.charAt(0).toLowerCase() + contractName.slice(1);
}

/** Renders the generated TypeScript modules. */
export function renderModules(
  contracts: CompiledContract[],
  hash: string,
): { abis: string; bytecode: string; storageLayout: string } {
  const header = `// Generated by packages/contracts/scripts/build.ts from build ${hash}. Do not edit.\n`;
  const abis = contracts
    .map(
      (c) =>
        `/** ABI of ${c.name} (${c.sourceUnit}). */\nexport const ${identifier(c.name)}Abi = ${JSON.stringify(c.abi, null, 2)} as const;\n`,
    )
    .join('\n');
  const bytecode = contracts
    .filter((c) => c.bytecode.length > 0)
    .map(
      (c) =>
        `/** Creation bytecode of ${c.name} (${c.sourceUnit}). */\nexport const ${identifier(c.name)}Bytecode = '0x${c.bytecode}' as const;\n`,
    )
    .join('\n');
  const layouts = contracts
    .filter((c) => c.bytecode.length > 0 && c.storageLayout.storage.length > 0)
    .map(
      (c) =>
        `/** Storage layout of ${c.name} (${c.sourceUnit}), as solc reports it. */\nexport const ${identifier(c.name)}StorageLayout = ${JSON.stringify(c.storageLayout, null, 2)} as const;\n`,
    )
    .join('\n');
  return { abis: header + abis, bytecode: header + bytecode, storageLayout: header + layouts };
}

function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** Builds into `outDir` unless the last build there has the same hash; returns what happened. */
export function build(options: { sourceDir?: string; outDir?: string; force?: boolean } = {}): {
  skipped: boolean;
  hash: string;
  contracts: string[];
  warnings: string[];
} {
  const sources = readSources(options.sourceDir ?? SOURCE_DIR);
  if (Object.keys(sources).length === 0) {
    throw new ContractsBuildError('NO_SOURCES', `no .sol files under ${options.sourceDir ?? SOURCE_DIR}`);
  }
  const outDir = options.outDir ?? GENERATED_DIR;
  const hash = buildHash(sources);
  const hashFile = join(outDir, 'build-hash');
  const fresh =
    !options.force &&
    existsSync(hashFile) &&
    existsSync(join(outDir, 'abis.ts')) &&
    existsSync(join(outDir, 'bytecode.ts')) &&
    existsSync(join(outDir, 'storage-layout.ts')) &&
    readFileSync(hashFile, 'utf8').trim() === hash;
  if (fresh) return { skipped: true, hash, contracts: [], warnings: [] };

  const result = compileSources(sources);
  const modules = renderModules(result.contracts, hash);
  mkdirSync(outDir, { recursive: true });
  writeAtomic(join(outDir, 'abis.ts'), modules.abis);
  writeAtomic(join(outDir, 'bytecode.ts'), modules.bytecode);
  writeAtomic(join(outDir, 'storage-layout.ts'), modules.storageLayout);
  writeAtomic(hashFile, `${hash}\n`);
  return { skipped: false, hash, contracts: result.contracts.map((c) => c.name), warnings: result.warnings };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { values } = parseArgs({
      options: {
        force: { type: 'boolean' },
        'source-dir': { type: 'string' },
        'out-dir': { type: 'string' },
      },
    });
    const result = build({
      force: values.force ?? false,
      sourceDir: values['source-dir'] ?? SOURCE_DIR,
      outDir: values['out-dir'] ?? GENERATED_DIR,
    });
    for (const w of result.warnings) console.warn(w);
    console.log(
      result.skipped
        ? `contracts: up to date (${result.hash.slice(0, 12)})`
        : `contracts: compiled ${result.contracts.join(', ')} (${result.hash.slice(0, 12)})`,
    );
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}
