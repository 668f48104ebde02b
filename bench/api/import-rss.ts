/**
 * What the API's modules cost in RSS, one by one: each step is a fresh node process (the node's own
 * V8 options, the compiled packages) that imports the listed modules (or builds the real API server
 * with every route and listens), collects garbage twice, settles, and reads its RSS from
 * /proc/self/smaps_rollup (and V8's used heap, which varies far less). Figures are medians of SAMPLES runs, steps interleaved. Every step but the
 * first starts from the modules a --no-api node loads anyway (@dibs/node: libp2p, viem, pino,
 * TypeBox and its compiler…) and is shown as the growth over that floor: what the API adds. `npm run bench:api-modules`; DIBS_BENCH_API_MODULES_SAMPLES (5).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIBS_NODE_OPTIONS } from '../../packages/cli/src/node-options.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SAMPLES = Number(process.env.DIBS_BENCH_API_MODULES_SAMPLES ?? 5);

/** A step: a name and the ES module body run before the RSS is read. */
const steps: [string, string][] = [
  ['bare node', ''],
  ['daemon modules (@dibs/node): the floor', ''],
  ['fastify (import)', "await import('fastify');"],
  [
    'fastify instance, default compilers',
    "const { default: F } = await import('fastify'); const a = F(); await a.ready();",
  ],
  ['avvio', "await import('avvio');"],
  ['find-my-way', "await import('find-my-way');"],
  ['light-my-request', "await import('light-my-request');"],
  ['ajv', "await import('ajv');"],
  ['@fastify/ajv-compiler', "await import('@fastify/ajv-compiler');"],
  ['fast-json-stringify', "await import('fast-json-stringify');"],
  ['@fastify/fast-json-stringify-compiler', "await import('@fastify/fast-json-stringify-compiler');"],
  ['pino', "await import('pino');"],
  ['@fastify/swagger', "await import('@fastify/swagger');"],
  ['typebox', "await import('typebox');"],
  ['typebox/compile', "await import('typebox/compile');"],
  ['typebox/value', "await import('typebox/value');"],
  ['@dibs/node/api (route schemas + server)', "await import('@dibs/node/api');"],
  [
    'API server: all routes, listening, idle',
    `const api = await import('@dibs/node/api');
     const s = api.createApiServer({ token: 'x'.repeat(43), log: api.silentApiLogger, staticDir: ${JSON.stringify(join(ROOT, 'packages/ui/dist'))} });
     api.registerDibsApi(s, {}); api.registerOrgApi(s, {});
     await s.listen(); globalThis.keep = s;`,
  ],
];

function sample(body: string, floor: boolean): [number, number] {
  const code = `${floor ? "await import('@dibs/node');" : ''}
    ${body}
    for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); }
    const t = (await import('node:fs')).readFileSync('/proc/self/smaps_rollup', 'utf8');
    const heap = process.memoryUsage().heapUsed / 2 ** 20;
    process.stdout.write(JSON.stringify([Number(/^Rss:\\s+(\\d+) kB/m.exec(t)[1]) / 1024, heap]));
    process.exit(0);`;
  const out = execFileSync(
    process.execPath,
    [...DIBS_NODE_OPTIONS, '--expose-gc', '--input-type=module', '-e', code],
    { cwd: join(ROOT, 'packages', 'node'), encoding: 'utf8' },
  );
  return JSON.parse(out) as [number, number];
}

const runs: number[][] = steps.map(() => []);
const heaps: number[][] = steps.map(() => []);
for (let s = 0; s < SAMPLES; s++)
  for (const [i, [, body]] of steps.entries()) {
    const [rss, heap] = sample(body, i > 0);
    runs[i]!.push(rss);
    heaps[i]!.push(heap);
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const bare = median(runs[0]!);
const floor = median(runs[1]!);
const heapBare = median(heaps[0]!);
const heapFloor = median(heaps[1]!);
const figures: Record<string, number> = {};
const heapFigures: Record<string, number> = {};
for (const [i, [name]] of steps.entries()) {
  const m = median(runs[i]!);
  const spread = Math.max(...runs[i]!) - Math.min(...runs[i]!);
  const over = i === 0 ? 0 : i === 1 ? m - bare : m - floor;
  const heapOver = median(heaps[i]!) - (i <= 1 ? heapBare : heapFloor);
  figures[name] = Number(over.toFixed(1));
  heapFigures[name] = Number(heapOver.toFixed(2));
  process.stderr.write(
    `${name.padEnd(42)} RSS ${m.toFixed(1).padStart(6)} MiB ${i === 0 ? '' : `+${over.toFixed(1)}`.padStart(6)} (spread ${spread.toFixed(1)})   heap used ${i === 0 ? '' : `+${heapOver.toFixed(2)}`}\n`,
  );
}
console.log(
  JSON.stringify({
    bench: 'api-modules',
    figures: { bareMiB: bare, floorMiB: floor, growthMiB: figures, heapGrowthMiB: heapFigures },
  }),
);
