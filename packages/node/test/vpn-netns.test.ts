/**
 * The L3 VPN across network namespaces (netns/vpn-topology.sh), every node a real daemon in its own
 * process on a real chain: a client behind NAT joins site A (`vpn up`: ping, curl, 256 MiB with
 * matching sha256, a LAN host outside the allowed CIDRs and ports unreachable); two NATed sites link
 * both ways (`vpn site`) with UDP between them dropped, so WireGuard runs through the relay; revoking
 * the grant on chain cuts the L3 path; `vpn down` and a SIGKILLed node's restart leave nothing behind.
 *
 * The same file is the node process inside each namespace: started with DIBS_VPN_NETNS_CONFIG it
 * runs one node instead of tests. Needs root; without root the suite is skipped, except under CI.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AnvilSupervisor } from '@dibs/chain';
import { Wallet } from '@dibs/core';
import { AccessClient } from '../src/access/access-client.ts';
import { type Daemon, startDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/daemon/log.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOPOLOGY = fileURLToPath(new URL('./netns/vpn-topology.sh', import.meta.url));
const RELAY_IP = '10.202.0.1';
const CHAIN_ID = 31337;
const PAYLOAD_BYTES = 256 * 1024 * 1024 + 4321;
const READY_TIMEOUT_MS = 240_000;
const COMMAND_TIMEOUT_MS = 90_000;
/** Longest wait for revocation to cut the path (the mirror's poll plus the revocation bound, generously). */
const REVOCATION_WAIT_MS = 30_000;
const NOT_ROOT = process.getuid?.() !== 0;
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

interface ChildConfig {
  role: 'relay' | 'hosta' | 'client' | 'siteb';
  dataDir: string;
  listen: string[];
  /** Same wallet across a restart. */
  key: string;
  rpcUrl?: string;
  contracts?: Record<string, string>;
  /** A vpn service to publish: name, subnets, allow rules. */
  publish?: { name: string; subnets: string[]; allow: string[] };
  /** Wait for a relay reservation (NATed nodes). */
  reserve?: boolean;
}

type Command =
  | { id: number; op: 'vpnUp'; serviceId: string; mode: 'client' | 'site' }
  | { id: number; op: 'vpnDown'; serviceId?: string }
  | { id: number; op: 'vpnStatus' }
  | { id: number; op: 'revoke'; serviceId: string };

// ───────────────────────────── the node process inside a namespace ─────────────────────────────

async function runChild(configPath: string): Promise<void> {
  const cfg = JSON.parse(await readFile(configPath, 'utf8')) as ChildConfig;
  await unlink(configPath);
  const report = (msg: Record<string, unknown>) =>
    process.stdout.write(`${JSON.stringify(msg, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  const log = createLogger({ console: process.stderr, component: cfg.role });
  let anvil: AnvilSupervisor | undefined;
  let rpcUrl = cfg.rpcUrl;
  if (cfg.role === 'relay') {
    anvil = new AnvilSupervisor({ dataDir: cfg.dataDir, host: RELAY_IP, chainId: CHAIN_ID, silent: true });
    await anvil.start();
    rpcUrl = anvil.rpcUrl;
  }
  let daemon: Daemon | undefined;
  const shutdown = async (code: number) => {
    const timer = setTimeout(() => process.exit(code), 15_000);
    timer.unref();
    await daemon?.stop().catch(() => {});
    await anvil?.stop().catch(() => {});
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.stdin.on('end', () => void shutdown(0));
  try {
    const wallet = Wallet.fromPrivateKey(cfg.key);
    daemon = await startDaemon({
      dataDir: cfg.dataDir,
      databasePath: join(cfg.dataDir, 'dibs.db'),
      runtimePath: join(cfg.dataDir, 'node.json'),
      chain: {
        mode: 'rpc',
        rpcUrl,
        chainId: CHAIN_ID,
        ...(cfg.contracts ? { contracts: cfg.contracts } : {}),
      },
      wallet,
      log,
      p2p: { listen: cfg.listen, operator: cfg.role === 'relay', confirmations: 0 },
      api: false,
    });
    const net = daemon.network;
    if (!net) throw new Error('the daemon started without its network');
    const addrs = () => net.host.multiaddrs().map((a) => a.toString());
    if (cfg.reserve) {
      for (let i = 0; i < 300 && !addrs().some((a) => a.includes('/p2p-circuit')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let serviceId: string | undefined;
    if (cfg.publish) {
      const existing = (await net.services.list()).find(
        (s) => s.own && s.active && s.name === cfg.publish!.name,
      );
      serviceId = (
        existing ?? (await net.services.publish({ type: 'vpn', policy: 'public', ...cfg.publish }))
      ).id.toString();
    }
    const i = daemon.info.chain;
    report({
      ready: true,
      peerId: net.host.peerId.toString(),
      multiaddrs: addrs(),
      rpcUrl,
      anvilPid: anvil?.pid,
      contracts: { ...i.contracts, networkServiceId: i.networkServiceId },
      serviceId,
      vpn: await net.services.vpnStatus(),
    });
    const d = daemon;
    for await (const line of createInterface({ input: process.stdin })) {
      const cmd = JSON.parse(line) as Command;
      const answer = async (): Promise<Record<string, unknown>> => {
        switch (cmd.op) {
          case 'vpnUp':
            return {
              session: await net.services.vpnUp({ serviceId: BigInt(cmd.serviceId), mode: cmd.mode }),
            };
          case 'vpnDown':
            return { down: await net.services.vpnDown(cmd.serviceId ? BigInt(cmd.serviceId) : undefined) };
          case 'vpnStatus':
            return { vpn: await net.services.vpnStatus() };
          case 'revoke': {
            const access = new AccessClient({
              store: d.store,
              registry: d.chain.registry,
              wallet,
              chainId: d.chain.deployment.chainId,
            });
            const grants = access.list().filter((g) => g.serviceId === BigInt(cmd.serviceId) && !g.revoked);
            for (const g of grants) await access.revoke(g.grantId);
            return { revoked: grants.map((g) => g.grantId.toString()) };
          }
        }
      };
      answer().then(
        (r) => report({ id: cmd.id, ok: true, ...r }),
        (err: Error) =>
          report({ id: cmd.id, ok: false, error: `${err.message} ${(err as { hint?: string }).hint ?? ''}` }),
      );
    }
  } catch (err) {
    process.stderr.write(`${cfg.role} failed: ${(err as Error).stack ?? err}\n`);
    report({ ready: false, error: (err as Error).message });
    await shutdown(1);
  }
}

// ─────────────────────────────────────────── the test ───────────────────────────────────────────

class NodeProcess {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #ready = Promise.withResolvers<Record<string, unknown>>();
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  #next = 1;

  constructor(namespace: string, configPath: string) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DIBS_VPN_NETNS_CONFIG: configPath,
      DIBS_LOG_LEVEL: 'info',
    };
    delete env.NODE_TEST_CONTEXT;
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, SELF], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 300) this.stderr.shift();
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l);
      } catch {
        return;
      }
      if (typeof msg.id === 'number') this.#waiting.get(msg.id)?.(msg);
      else if (msg.ready === true) this.#ready.resolve(msg);
      else this.#ready.reject(new Error(`${namespace}: ${msg.error}\n${this.tail()}`));
    });
    this.child.on('exit', (code, signal) => {
      this.#ready.reject(new Error(`${namespace} exited (${code ?? signal})\n${this.tail()}`));
      for (const w of this.#waiting.values()) w({ ok: false, error: `node exited (${code ?? signal})` });
    });
  }

  tail(): string {
    return this.stderr.slice(-40).join('\n');
  }

  ready(): Promise<Record<string, unknown>> {
    return bounded(this.#ready.promise, READY_TIMEOUT_MS, 'node start');
  }

  async command(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify({ id, ...cmd })}\n`);
    try {
      const r = await bounded(answer, COMMAND_TIMEOUT_MS, String(cmd.op));
      if (!r.ok) throw new Error(`${String(cmd.op)} failed: ${r.error}\n${this.tail()}`);
      return r;
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** SIGTERM (or `signal`) by PID, SIGKILL after a bounded wait. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    const timer = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function defineTests(): void {
  describe('L3 VPN across namespaces: client-to-site behind NAT, site-to-site through a relay', {
    skip:
      NOT_ROOT && !IN_CI
        ? 'needs root: creates network namespaces, WireGuard interfaces and nftables rules'
        : false,
  }, () => {
    const prefix = `dibs-vpn-${randomBytes(3).toString('hex')}`;
    const ns = (n: string) => `${prefix}-${n}`;
    const nodes: NodeProcess[] = [];
    const helpers: ChildProcess[] = [];
    let dir = '';
    let topologyUp = false;
    let anvilPid: number | undefined;
    let chain: { rpcUrl: string; contracts: Record<string, string> };
    let relayAddr = '';
    let client: NodeProcess;
    let siteb: NodeProcess;
    const ids = { a: '', b: '', c: '' };
    const configs = new Map<string, ChildConfig>();
    let payloadSha = '';

    async function start(
      config: ChildConfig,
      namespace: string,
    ): Promise<{ node: NodeProcess; ready: Record<string, unknown> }> {
      configs.set(config.role, config);
      const configPath = join(dir, `${config.role}-${randomBytes(3).toString('hex')}.json`);
      await writeFile(configPath, JSON.stringify(config), { mode: 0o600 });
      const node = new NodeProcess(namespace, configPath);
      nodes.push(node);
      return { node, ready: await node.ready() };
    }

    /** Runs `argv` in namespace `n`; resolves to its stdout, rejects on failure. */
    async function inNs(n: string, argv: string[], timeout = 60_000): Promise<string> {
      return (await run('ip', ['netns', 'exec', ns(n), ...argv], { timeout, maxBuffer: 4 << 20 })).stdout;
    }
    const pings = (from: string, to: string) =>
      inNs(from, ['ping', '-c', '1', '-W', '2', to]).then(
        () => true,
        () => false,
      );
    const curl = (from: string, url: string, extra: string[] = []) =>
      inNs(from, ['curl', '-sS', '--max-time', '5', ...extra, url], 180_000);

    /** A web server in namespace `n` serving `root` on port 8080 (python's http.server). */
    async function web(n: string, root: string): Promise<void> {
      const child = spawn(
        'ip',
        ['netns', 'exec', ns(n), 'python3', '-m', 'http.server', '8080', '--directory', root],
        {
          stdio: 'ignore',
        },
      );
      helpers.push(child);
      for (let i = 0; i < 100; i++) {
        if (
          await inNs(n, ['curl', '-s', '-o', '/dev/null', 'http://127.0.0.1:8080/'], 5_000).then(
            () => true,
            () => false,
          )
        )
          return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`web server in ${n} did not start`);
    }

    async function leftovers(n: string): Promise<{ links: string[]; tables: string[] }> {
      const links = (await inNs(n, ['ip', '-o', 'link', 'show']))
        .split('\n')
        .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1] ?? '')
        .filter((l) => l.startsWith('dv'));
      const tables = (await inNs(n, ['nft', 'list', 'tables']))
        .split('\n')
        .filter((l) => l.includes('dibs_vpn_'));
      return { links, tables };
    }

    before(async () => {
      if (NOT_ROOT)
        throw new Error('this test needs root (network namespaces, WireGuard, nftables) and CI is set');
      dir = await mkdtemp(join(tmpdir(), 'dibs-vpn-netns-'));
      await run(TOPOLOGY, ['up', prefix], { timeout: 60_000 });
      topologyUp = true;
      // Pages on every LAN host; a body of over 256 MiB on site A's web host.
      for (const n of ['weba', 'othera', 'webb', 'webc']) {
        const root = join(dir, `www-${n}`);
        await mkdir(root);
        await writeFile(join(root, 'index.html'), `hello from ${n}\n`);
        if (n === 'weba') {
          const hash = createHash('sha256');
          const out = createWriteStream(join(root, 'big'));
          for (let left = PAYLOAD_BYTES; left > 0; left -= 1 << 20) {
            const chunk = randomBytes(Math.min(left, 1 << 20));
            hash.update(chunk);
            if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
          }
          await new Promise<void>((r) => out.end(() => r()));
          payloadSha = hash.digest('hex');
        }
        await web(n, root);
      }
      const key = () => `0x${randomBytes(32).toString('hex')}`;
      const relay = await start(
        { role: 'relay', dataDir: join(dir, 'relay'), listen: [`/ip4/${RELAY_IP}/tcp/0`], key: key() },
        ns('relay'),
      );
      anvilPid = relay.ready.anvilPid as number | undefined;
      relayAddr = (relay.ready.multiaddrs as string[]).find((a) => a.startsWith(`/ip4/${RELAY_IP}/tcp/`))!;
      chain = {
        rpcUrl: relay.ready.rpcUrl as string,
        contracts: relay.ready.contracts as Record<string, string>,
      };
      const a = await start(
        {
          role: 'hosta',
          dataDir: join(dir, 'hosta'),
          listen: ['/ip4/0.0.0.0/tcp/0'],
          key: key(),
          ...chain,
          // weba: everything; othera: only port 22 (so its web server and ping stay out of reach).
          publish: {
            name: 'site-a',
            subnets: ['10.61.0.0/24'],
            allow: ['10.61.0.10/32', '10.61.0.20/32:22'],
          },
        },
        ns('hosta'),
      );
      ids.a = a.ready.serviceId as string;
      assert.equal((a.ready.vpn as { supported: boolean }).supported, true, JSON.stringify(a.ready.vpn));
      const circuit = [`${relayAddr}/p2p-circuit`];
      const [b, c] = await Promise.all([
        start(
          {
            role: 'siteb',
            dataDir: join(dir, 'siteb'),
            listen: ['/ip4/0.0.0.0/tcp/0', ...circuit],
            key: key(),
            ...chain,
            reserve: true,
            publish: { name: 'site-b', subnets: ['10.62.0.0/24'], allow: ['10.62.0.0/24'] },
          },
          ns('siteb'),
        ),
        start(
          {
            role: 'client',
            dataDir: join(dir, 'client'),
            listen: ['/ip4/0.0.0.0/tcp/0', ...circuit],
            key: key(),
            ...chain,
            reserve: true,
            publish: { name: 'site-c', subnets: ['10.63.0.0/24'], allow: ['10.63.0.0/24'] },
          },
          ns('client'),
        ),
      ]);
      siteb = b.node;
      client = c.node;
      ids.b = b.ready.serviceId as string;
      ids.c = c.ready.serviceId as string;
    });

    after(async () => {
      for (const node of nodes.reverse()) await node.stop();
      for (const h of helpers) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
      if (anvilPid !== undefined) {
        try {
          process.kill(anvilPid, 'SIGKILL');
        } catch {}
      }
      if (topologyUp) await run(TOPOLOGY, ['down', prefix], { timeout: 60_000 });
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('client-to-site from behind NAT: ping, curl, and 256 MiB with matching sha256', async () => {
      assert.equal(await pings('client', '10.61.0.10'), false, 'no path to site A before the VPN');
      const up = (await client.command({ op: 'vpnUp', serviceId: ids.a, mode: 'client' })).session as Record<
        string,
        unknown
      >;
      assert.equal(up.path, 'direct', JSON.stringify(up));
      assert.match(String(up.address), /^100\.64\.\d+\.\d+$/);
      assert.deepEqual(up.routes, ['10.61.0.0/24']);
      assert.equal(await pings('client', '10.61.0.10'), true, client.tail());
      assert.equal(await curl('client', 'http://10.61.0.10:8080/'), 'hello from weba\n');
      const file = join(dir, 'big.body');
      await curl('client', 'http://10.61.0.10:8080/big', ['--max-time', '170', '-o', file]);
      const hash = createHash('sha256');
      let length = 0;
      for await (const chunk of createReadStream(file)) {
        hash.update(chunk as Buffer);
        length += (chunk as Buffer).length;
      }
      await unlink(file);
      assert.equal(length, PAYLOAD_BYTES);
      assert.equal(hash.digest('hex'), payloadSha);
      const status = (await client.command({ op: 'vpnStatus' })).vpn as {
        sessions: Array<Record<string, unknown>>;
      };
      const s = status.sessions.find((x) => x.serviceId === ids.a && x.role === 'client')!;
      assert.ok((s.bytesIn as number) > PAYLOAD_BYTES, JSON.stringify(s));
      assert.equal(typeof s.handshakeAgeS, 'number');
    });

    it('a LAN host outside the allowed CIDRs and ports is unreachable through the VPN', async () => {
      // The host itself reaches it: the rule, not the network, keeps the client out.
      assert.equal(await curl('hosta', 'http://10.61.0.20:8080/'), 'hello from othera\n');
      assert.equal(await pings('client', '10.61.0.20'), false);
      await assert.rejects(curl('client', 'http://10.61.0.20:8080/', ['--max-time', '3']));
      // Outside the site's subnets altogether: not even routed into the tunnel.
      assert.equal(await pings('client', '10.61.1.1'), false);
    });

    it('site-to-site between two NATed LANs, both ways, through the relay (UDP between them dropped)', async () => {
      const cb = (await client.command({ op: 'vpnUp', serviceId: ids.b, mode: 'site' })).session as Record<
        string,
        unknown
      >;
      const bc = (await siteb.command({ op: 'vpnUp', serviceId: ids.c, mode: 'site' })).session as Record<
        string,
        unknown
      >;
      assert.equal(cb.path, 'relayed', JSON.stringify(cb));
      assert.equal(bc.path, 'relayed', JSON.stringify(bc));
      assert.equal(await pings('webc', '10.62.0.10'), true, client.tail());
      assert.equal(await curl('webc', 'http://10.62.0.10:8080/'), 'hello from webb\n');
      assert.equal(await pings('webb', '10.63.0.10'), true, siteb.tail());
      assert.equal(await curl('webb', 'http://10.63.0.10:8080/'), 'hello from webc\n');
      const st = (await client.command({ op: 'vpnStatus' })).vpn as {
        sessions: Array<Record<string, unknown>>;
      };
      const s = st.sessions.find((x) => x.serviceId === ids.b && x.role === 'site')!;
      assert.match(String(s.endpoint), /^127\.0\.0\.1:/, 'WireGuard goes through the bridge');
    });

    it('revoking the grant on chain cuts the L3 path', async () => {
      assert.equal(await pings('client', '10.61.0.10'), true);
      await client.command({ op: 'revoke', serviceId: ids.a });
      const deadline = Date.now() + REVOCATION_WAIT_MS;
      let cut = false;
      while (!cut && Date.now() < deadline) {
        cut = !(await pings('client', '10.61.0.10'));
        if (!cut) await new Promise((r) => setTimeout(r, 300));
      }
      assert.ok(cut, `still reachable ${REVOCATION_WAIT_MS} ms after the revocation`);
      type Status = { sessions: Array<Record<string, unknown>>; ended: Array<Record<string, unknown>> };
      // The host closed the session's channel; the client takes its side down when it sees that.
      let st = (await client.command({ op: 'vpnStatus' })).vpn as Status;
      for (let i = 0; i < 100 && !st.ended.some((x) => x.serviceId === ids.a); i++) {
        await new Promise((r) => setTimeout(r, 100));
        st = (await client.command({ op: 'vpnStatus' })).vpn as Status;
      }
      assert.ok(!st.sessions.some((x) => x.serviceId === ids.a), JSON.stringify(st));
      assert.ok(
        st.ended.some((x) => x.serviceId === ids.a),
        JSON.stringify(st.ended),
      );
    });

    it('vpn down leaves no interface, route or rule; a SIGKILLed node leaves nothing after its restart', async () => {
      await client.command({ op: 'vpnDown', serviceId: ids.b });
      const routes = await inNs('client', ['ip', 'route', 'show']);
      assert.doesNotMatch(routes, /10\.62\.0\.0/);
      const down = await leftovers('client');
      // What remains is the client's own hosted site C (siteb is linked into it).
      assert.ok(
        down.links.every((l) => /h\d+$/.test(l)),
        JSON.stringify(down),
      );
      // Up again, then killed.
      await client.command({ op: 'vpnUp', serviceId: ids.b, mode: 'site' });
      assert.equal(await pings('webc', '10.62.0.10'), true);
      await client.stop('SIGKILL');
      // wireguard-go dies with its node (parent-death signal): the interfaces and their routes go.
      let left = await leftovers('client');
      for (let i = 0; i < 50 && left.links.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = await leftovers('client');
      }
      assert.deepEqual(left.links, []);
      assert.equal(await pings('webc', '10.62.0.10'), false);
      const restarted = await start({ ...configs.get('client')! }, ns('client'));
      client = restarted.node;
      const after = await leftovers('client');
      assert.deepEqual(after, { links: [], tables: [] });
      await client.stop();
      assert.deepEqual(await leftovers('client'), { links: [], tables: [] });
    });
  });
}

const childConfig = process.env.DIBS_VPN_NETNS_CONFIG;
if (childConfig) await runChild(childConfig);
else defineTests();
