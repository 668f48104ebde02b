/**
 * Compiles the workspace's TypeScript sources to plain JavaScript for real runs (`npm start`,
 * `npm run dibs`): packages/<pkg>/src/x/y.ts → packages/<pkg>/dist/x/y.js. A process started with
 * `node --conditions=dibs-dist packages/cli/dist/main.js` then loads no TypeScript at all, which
 * spares it Node's type-stripping machinery and the source text it keeps (issue #4: idle node RSS).
 * Tests and the type check keep running the sources; the package `exports` pick dist only under the
 * `dibs-dist` condition.
 *
 * Directory depth is kept so `new URL('../..', import.meta.url)` lands on the same files from dist.
 * Relative `.ts` files a source imports from outside src (contracts' generated ABIs) are compiled
 * next to themselves. `new URL('./x.ts', import.meta.url)` literals naming a compiled module are
 * rewritten to `.js` as well, so a module that spawns a sibling entry point spawns the compiled one.
 *
 * viem is bundled, not loaded from node_modules: its root entry pulls in ~350 modules (~32 MiB RSS)
 * of which the workspace uses a few dozen names. After transpiling, the value names compiled modules
 * import from 'viem' / 'viem/accounts' are re-exported by generated entries that rolldown bundles,
 * tree-shaken, into packages/chain/dist/vendor/; the compiled modules' specifiers are rewritten to
 * those files. Sources, tests and the type check keep importing viem itself.
 *
 * Usage: node scripts/compile.ts [--check]   (--check: compile and bundle in memory, write nothing)
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { build, type RolldownOutput } from 'rolldown';
import ts from 'typescript';

/** The repository root. */
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** Packages whose src is not Node code (built by their own tool) and so is left alone. */
const SKIP_PACKAGES = new Set(['ui']);
/** Where compiled output goes, per package. */
const OUT_DIR = 'dist';

/** Bare specifiers bundled rather than loaded from node_modules, and the vendor entry each becomes. */
const VENDORED: ReadonlyMap<string, string> = new Map([
  ['viem', 'viem.js'],
  ['viem/accounts', 'viem-accounts.js'],
  ['viem/siwe', 'viem-siwe.js'],
]);
/** Where the vendor bundle goes. */
const VENDOR_DIR = join(ROOT, 'packages', 'chain', OUT_DIR, 'vendor');
/** Prefix of the generated (in-memory) vendor entry modules' ids. */
const VENDOR_ENTRY_PREFIX = '\0dibs-vendor:';
/** Marks a specifier imported as a whole namespace (`import * as`, `export *`, `import()`). */
const WHOLE = '*';

/** Compiler options mirroring tsconfig.json's emit-relevant settings. */
const OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2023,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  rewriteRelativeImportExtensions: true,
  allowImportingTsExtensions: true,
  isolatedModules: true,
  sourceMap: false,
  removeComments: false,
  newLine: ts.NewLineKind.LineFeed,
};

/** Thrown when a source does not transpile cleanly. */
export class CompileError extends Error {
  readonly code = 'COMPILE_FAILED';
  constructor(file: string, detail: string) {
    super(`${file}: ${detail} — fix the source (it must also pass \`npx tsc -p tsconfig.json\`)`);
    this.name = 'CompileError';
  }
}

function walk(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** Every packages/<pkg>/src/**\/*.ts outside the skipped packages, with where its output goes. */
function sources(): Map<string, string> {
  const map = new Map<string, string>();
  const packages = join(ROOT, 'packages');
  for (const pkg of readdirSync(packages).sort()) {
    if (SKIP_PACKAGES.has(pkg)) continue;
    const src = join(packages, pkg, 'src');
    try {
      if (!statSync(src).isDirectory()) continue;
    } catch {
      continue;
    }
    for (const file of walk(src, []).sort()) {
      map.set(file, join(packages, pkg, OUT_DIR, relative(src, file)).replace(/\.ts$/, '.js'));
    }
  }
  return map;
}

/** Relative `.ts` specifiers a module names statically (imports, re-exports, literal `import()`). */
function relativeTsSpecifiers(sf: ts.SourceFile): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found.filter((s) => (s.startsWith('./') || s.startsWith('../')) && s.endsWith('.ts'));
}

function isImportMetaUrl(node: ts.Node): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    ts.isMetaProperty(node.expression) &&
    node.expression.keywordToken === ts.SyntaxKind.ImportKeyword &&
    node.name.text === 'url'
  );
}

/**
 * Rewrites `new URL('<relative>.ts', import.meta.url)` to `.js` when that file is one this run
 * compiles: from dist the URL must name the compiled sibling, not a source that is not there.
 */
function urlRewriter(from: string, compiled: Map<string, string>): ts.TransformerFactory<ts.SourceFile> {
  return (context) => {
    const visit = (node: ts.Node): ts.Node => {
      if (
        ts.isNewExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === 'URL' &&
        node.arguments?.length === 2 &&
        ts.isStringLiteralLike(node.arguments[0]!) &&
        isImportMetaUrl(node.arguments[1]!)
      ) {
        const spec = node.arguments[0].text;
        if ((spec.startsWith('./') || spec.startsWith('../')) && spec.endsWith('.ts')) {
          const target = resolve(dirname(from), spec);
          const out = compiled.get(target);
          if (out !== undefined) {
            const outFrom = compiled.get(from)!;
            let rel = relative(dirname(outFrom), out).split(sep).join('/');
            if (!rel.startsWith('.')) rel = `./${rel}`;
            return context.factory.updateNewExpression(node, node.expression, node.typeArguments, [
              context.factory.createStringLiteral(rel, true),
              node.arguments[1]!,
            ]);
          }
        }
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sf) => ts.visitNode(sf, visit) as ts.SourceFile;
  };
}

/** Deletes files under the packages' dist dirs that no source produces any more (renamed modules). */
function removeStale(keep: Set<string>): void {
  const packages = join(ROOT, 'packages');
  for (const pkg of readdirSync(packages)) {
    if (SKIP_PACKAGES.has(pkg)) continue;
    const dist = join(packages, pkg, OUT_DIR);
    const visit = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) visit(path);
        else if (!keep.has(path)) rmSync(path, { force: true });
      }
    };
    try {
      visit(dist);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/** Value names imported per vendored specifier, across all compiled modules. */
type VendorImports = Map<string, Set<string>>;

function stringSpecifier(node: ts.Expression | undefined): string | undefined {
  return node && ts.isStringLiteralLike(node) ? node.text : undefined;
}

/**
 * Runs after type elision, so only value imports remain: records what each vendored specifier is
 * asked for and points the specifier at the vendor bundle.
 */
function vendorRewriter(outFile: string, wanted: VendorImports): ts.TransformerFactory<ts.SourceFile> {
  const target = (spec: string): string => {
    let rel = relative(dirname(outFile), join(VENDOR_DIR, VENDORED.get(spec)!))
      .split(sep)
      .join('/');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    return rel;
  };
  const want = (spec: string, name: string): void => {
    const names = wanted.get(spec) ?? new Set<string>();
    names.add(name);
    wanted.set(spec, names);
  };
  return (context) => {
    const f = context.factory;
    const visit = (node: ts.Node): ts.Node => {
      if (ts.isImportDeclaration(node)) {
        const spec = stringSpecifier(node.moduleSpecifier);
        if (spec !== undefined && VENDORED.has(spec)) {
          const clause = node.importClause;
          if (clause?.name) want(spec, 'default');
          const bindings = clause?.namedBindings;
          if (bindings && ts.isNamespaceImport(bindings)) want(spec, WHOLE);
          else if (bindings)
            for (const el of bindings.elements) want(spec, (el.propertyName ?? el.name).text);
          return f.updateImportDeclaration(
            node,
            node.modifiers,
            node.importClause,
            f.createStringLiteral(target(spec), true),
            node.attributes,
          );
        }
      } else if (ts.isExportDeclaration(node)) {
        const spec = stringSpecifier(node.moduleSpecifier);
        if (spec !== undefined && VENDORED.has(spec)) {
          const clause = node.exportClause;
          if (!clause || ts.isNamespaceExport(clause)) want(spec, WHOLE);
          else for (const el of clause.elements) want(spec, (el.propertyName ?? el.name).text);
          return f.updateExportDeclaration(
            node,
            node.modifiers,
            node.isTypeOnly,
            node.exportClause,
            f.createStringLiteral(target(spec), true),
            node.attributes,
          );
        }
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const spec = stringSpecifier(node.arguments[0]);
        if (spec !== undefined && VENDORED.has(spec)) {
          want(spec, WHOLE);
          return f.updateCallExpression(node, node.expression, node.typeArguments, [
            f.createStringLiteral(target(spec), true),
            ...node.arguments.slice(1),
          ]);
        }
      }
      return ts.visitEachChild(node, visit, context);
    };
    return (sf) => ts.visitNode(sf, visit) as ts.SourceFile;
  };
}

/** The generated entry for one vendored specifier: re-exports exactly the names asked for. */
function vendorEntry(spec: string, names: Set<string>): string {
  if (names.has(WHOLE)) return `export * from '${spec}';\n`;
  const list = [...names].sort();
  return `export { ${list.join(', ')} } from '${spec}';\n`;
}

/**
 * Bundles the vendored specifiers' wanted names with rolldown (ESM for Node, tree-shaken); returns
 * the bundle files by path. Throws CompileError when bundling fails.
 */
async function bundleVendor(wanted: VendorImports): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  const input: Record<string, string> = {};
  for (const [spec, file] of VENDORED) {
    const names = wanted.get(spec);
    if (!names || names.size === 0) continue;
    const id = `${VENDOR_ENTRY_PREFIX}${spec}`;
    entries.set(id, vendorEntry(spec, names));
    input[file.replace(/\.js$/, '')] = id;
  }
  const files = new Map<string, string>();
  if (entries.size === 0) return files;
  let output: RolldownOutput;
  try {
    output = await build({
      cwd: ROOT,
      input,
      platform: 'node',
      treeshake: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'dibs-vendor-entries',
          resolveId: (id) => (entries.has(id) ? id : null),
          load: (id) => entries.get(id) ?? null,
        },
      ],
      write: false,
      output: {
        format: 'esm',
        entryFileNames: '[name].js',
        chunkFileNames: 'viem-[name]-[hash].js',
        minify: false,
        comments: { legal: true, annotation: false, jsdoc: false },
      },
    });
  } catch (err) {
    throw new CompileError(
      `bundle of ${[...entries.keys()].map((id) => id.slice(VENDOR_ENTRY_PREFIX.length)).join(', ')}`,
      // rolldown colours its diagnostics; the error may end up in a log file.
      `rolldown failed: ${stripVTControlCharacters((err as Error).message)}`,
    );
  }
  for (const item of output.output) {
    if (item.type !== 'chunk') continue;
    files.set(join(VENDOR_DIR, item.fileName), item.code);
  }
  return files;
}

/** Transpiles one file; throws CompileError on syntax errors. */
function transpile(file: string, compiled: Map<string, string>, wanted: VendorImports): string {
  const text = readFileSync(file, 'utf8');
  const result = ts.transpileModule(text, {
    compilerOptions: OPTIONS,
    fileName: file,
    reportDiagnostics: true,
    transformers: {
      before: [urlRewriter(file, compiled)],
      after: [vendorRewriter(compiled.get(file)!, wanted)],
    },
  });
  const errors = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length > 0) {
    throw new CompileError(
      relative(ROOT, file),
      errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; '),
    );
  }
  return result.outputText;
}

/**
 * Compiles the workspace; returns the files written (or that would be). With `write` false nothing
 * touches the disk.
 */
export async function compileWorkspace(write = true): Promise<string[]> {
  const compiled = sources();
  // Relative .ts imports that leave src (contracts/generated) are compiled beside themselves;
  // follow them transitively so every module a dist file names exists.
  const queue = [...compiled.keys()];
  for (let i = 0; i < queue.length; i++) {
    const file = queue[i]!;
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2023, false);
    for (const spec of relativeTsSpecifiers(sf)) {
      const target = resolve(dirname(file), spec);
      if (!compiled.has(target)) {
        compiled.set(target, target.replace(/\.ts$/, '.js'));
        queue.push(target);
      }
    }
  }
  // Everything transpiles before anything is written, so a bad source leaves the old dist whole.
  const wanted: VendorImports = new Map();
  const outputs = [...compiled].map(([file, out]) => [out, transpile(file, compiled, wanted)] as const);
  outputs.push(...(await bundleVendor(wanted)));
  const written: string[] = [];
  for (const [out, js] of outputs) {
    if (write) {
      mkdirSync(dirname(out), { recursive: true });
      // Write then rename: a node already running from dist sees the old or the new module, never half.
      const tmp = `${out}.${process.pid}.tmp`;
      writeFileSync(tmp, js);
      renameSync(tmp, out);
    }
    written.push(out);
  }
  if (write) removeStale(new Set(written));
  return written;
}

if (import.meta.main) {
  const started = performance.now();
  const write = !process.argv.includes('--check');
  const files = await compileWorkspace(write);
  console.log(
    `compile: ${files.length} modules ${write ? 'written' : 'checked'} in ${Math.round(performance.now() - started)} ms`,
  );
}
