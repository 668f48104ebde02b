/**
 * Failover between relays, across network namespaces (packages/cli/test/netns/sites.sh; needs root):
 * an operator and two relays on a public segment, NATed sites set up from the join bundle. Service A
 * (site 1) keeps reservations on both relays; service B (site 3) on one only, the baseline: all a
 * single-relay deployment can do is wait for its relay to come back (restarted at once here). A
 * client (site 2) reaches both through `dibs connect` listeners.
 *
 *   ours      kill the relay the client's connection to A runs through (SIGKILL); time until the
 *             first byte of a new connection through the same listener (through the other relay)
 *   baseline  kill B's relay and restart it at once; time until the first byte of a new connection
 *   no path   kill both relays; time until a new connection to A fails
 *
 * Medians of `--kills N` (default 5) kills each. Last line: the agreed JSON.
 *
 *   npm run bench:failover [-- --kills 5]
 */
import { performance } from 'node:perf_hooks';
import { PAGE } from '../packages/cli/test/netns/payload.ts';
import { type Site, SitesBed, sitesUnavailable, until } from '../packages/cli/test/netns/sites.ts';

const GOAL_FAILOVER_S = 3;
const GOAL_NO_PATH_S = 5;
/** One attempt's bound; a connection that takes longer counts as failed and is tried again. */
const ATTEMPT_TIMEOUT_S = 10;
/** Longest wait for a new connection to succeed after a kill. */
const RECOVERY_LIMIT_MS = 120_000;

const killsArg = process.argv.indexOf('--kills');
const KILLS = killsArg > 0 ? Number(process.argv[killsArg + 1]) : 5;
if (!Number.isInteger(KILLS) || KILLS < 1 || KILLS > 50) throw new Error('--kills takes 1 … 50');

const unavailable = sitesUnavailable();
if (unavailable) {
  console.error(`bench/failover: ${unavailable}`);
  process.exit(2);
}

const bed = new SitesBed();
const say = (m: string) => process.stderr.write(`${m}\n`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * One GET of the page through `listener` in the client's site: ok, seconds to its first byte and to
 * its end (as curl measures them, from its connect on: not counting starting curl in the namespace).
 */
async function get(
  listener: string,
): Promise<{ ok: boolean; firstByteS: number; totalS: number; error: string }> {
  const r = await bed.curl('s2', [
    '--max-time',
    String(ATTEMPT_TIMEOUT_S),
    '-w',
    '\n%{time_starttransfer} %{time_total}',
    `http://${listener}/`,
  ]);
  const lines = r.stdout.split('\n');
  const [firstByteS, totalS] = (lines.pop() ?? '').split(' ').map(Number) as [number, number];
  return { ok: r.code === 0 && lines.join('\n') === PAGE, firstByteS, totalS, error: r.stderr.trim() };
}

/** Seconds from `t0` (performance.now ms) to the first byte of the first new connection that works. */
async function recover(listener: string, t0: number): Promise<number> {
  for (let i = 0; performance.now() - t0 < RECOVERY_LIMIT_MS && i < 10_000; i++) {
    const started = performance.now();
    const r = await get(listener);
    if (r.ok) return (started - t0) / 1000 + r.firstByteS;
  }
  throw new Error(`no connection through ${listener} within ${RECOVERY_LIMIT_MS} ms`);
}

async function holds(site: Site, n: number): Promise<void> {
  const ok = await until(async () => (await bed.status(site)).network.relays.held.length >= n, 90_000);
  if (!ok) throw new Error(`${site} did not get ${n} relay reservations back`);
}

try {
  say('bench/failover: setting up the bed (operator, two relays, three NATed sites)…');
  await bed.up();
  await bed.startOperator();
  const [r1] = await Promise.all([bed.startRelay('r1'), bed.startRelay('r2')]);
  await Promise.all([
    bed.startSite('s1', ['--reachability', 'private']),
    bed.startSite('s3', ['--relay', `${r1.info!.network.multiaddrs[0]}`, '--relay-count', '1']),
  ]);
  await Promise.all([holds('s1', 2), holds('s3', 1)]);
  const ports = { s1: await bed.payloadServer('s1'), s3: await bed.payloadServer('s3') };
  const publish = (site: 's1' | 's3', name: string) =>
    bed.dibsJson<{ id: string }>(site, [
      'service',
      'publish',
      name,
      '--type',
      'http',
      '--target',
      `127.0.0.1:${ports[site]}`,
    ]);
  const a = await publish('s1', 'two-relays');
  const b = await publish('s3', 'one-relay');
  const services = { s1: bed.nodes.get('s1')!.info!.peerId };
  await bed.startSite('s2');
  const listenerA = (await bed.dibsJson<{ localAddress: string }>('s2', ['connect', a.id, '--detach']))
    .localAddress;
  const listenerB = (await bed.dibsJson<{ localAddress: string }>('s2', ['connect', b.id, '--detach']))
    .localAddress;

  const ours: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    if (!(await get(listenerA)).ok) await recover(listenerA, performance.now());
    const used = await bed.relayInUse('s2', services.s1);
    const victim = used === bed.nodes.get('r1')!.info!.peerId ? 'r1' : 'r2';
    const t0 = performance.now();
    await bed.kill(victim);
    const s = await recover(listenerA, t0);
    ours.push(s);
    say(
      `  ours      kill ${k + 1}/${KILLS}: ${victim} → first byte through the other relay in ${s.toFixed(2)} s`,
    );
    await bed.restart(victim);
    await holds('s1', 2);
  }

  const baseline: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    if (!(await get(listenerB)).ok) await recover(listenerB, performance.now());
    const t0 = performance.now();
    await bed.kill('r1');
    await bed.restart('r1');
    const s = await recover(listenerB, t0);
    baseline.push(s);
    say(`  baseline  kill ${k + 1}/${KILLS}: r1 restarted → first byte in ${s.toFixed(2)} s`);
    await holds('s1', 2);
  }

  const noPath: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    if (!(await get(listenerA)).ok) await recover(listenerA, performance.now());
    await Promise.all([bed.kill('r1'), bed.kill('r2')]);
    const r = await get(listenerA);
    const s = r.totalS;
    if (r.ok) throw new Error('a connection succeeded with both relays dead');
    noPath.push(s);
    say(`  no path   try ${k + 1}/${KILLS}: failed after ${s.toFixed(2)} s (${r.error || 'closed'})`);
    if (k < KILLS - 1) {
      await Promise.all([bed.restart('r1'), bed.restart('r2')]);
      await holds('s1', 2);
    }
  }

  const figures = {
    kills: KILLS,
    ours_first_byte_median_s: Number(median(ours).toFixed(3)),
    ours_first_byte_s: ours.map((x) => Number(x.toFixed(3))),
    baseline_first_byte_median_s: Number(median(baseline).toFixed(3)),
    baseline_first_byte_s: baseline.map((x) => Number(x.toFixed(3))),
    baseline_over_ours: Number((median(baseline) / median(ours)).toFixed(2)),
    no_path_fail_median_s: Number(median(noPath).toFixed(3)),
    no_path_fail_max_s: Number(Math.max(...noPath).toFixed(3)),
  };
  console.log(
    `failover, ${KILLS} kills each: two relays ${figures.ours_first_byte_median_s} s median to the first byte of a new connection; one relay restarted at once (baseline) ${figures.baseline_first_byte_median_s} s; ratio ${figures.baseline_over_ours}×; no path: fails in ${figures.no_path_fail_median_s} s median (max ${figures.no_path_fail_max_s} s)`,
  );
  console.log(
    JSON.stringify({
      bench: 'failover',
      figures,
      goals: {
        failover_first_byte_s: {
          value: figures.ours_first_byte_median_s,
          goal: GOAL_FAILOVER_S,
          met: figures.ours_first_byte_median_s <= GOAL_FAILOVER_S,
        },
        no_path_fail_s: {
          value: figures.no_path_fail_max_s,
          goal: GOAL_NO_PATH_S,
          met: figures.no_path_fail_max_s <= GOAL_NO_PATH_S,
        },
      },
    }),
  );
} finally {
  await bed.down();
}
