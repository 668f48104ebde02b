/**
 * A service reached across two NATs through `connect` (netns/topology.sh): a relay node with the
 * chain (anvil) on the shared segment, a service node behind MASQUERADE NAT B publishing an HTTP
 * target, a client node behind NAT A forwarding a local port to it. The client cannot route to the
 * service's LAN, so the tunnel runs through the relay; curl in the client's namespace fetches a page
 * (through the forward listener and through the client's SOCKS5 proxy, by the service's name) and a
 * body of over 256 MiB whose sha256 must match the one the service computed. Every node is a real
 * daemon (chain mirror, network tickets, admission, services runtime) in its own process.
 *
 * The same file is the node process inside each namespace: started with DIBS_NAT_TUNNEL_CONFIG it
 * runs one node instead of tests. Needs root; without root the suite is skipped, except under CI.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AnvilSupervisor } from '@dibs/chain';
import { Wallet } from '@dibs/core';
import { type Daemon, startDaemon } from '../src/daemon/daemon.ts';
import { createLogger } from '../src/daemon/log.ts';
import { takeFileDigest } from './netns/file-digest.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const TOPOLOGY = fileURLToPath(new URL('./netns/topology.sh', import.meta.url));
const RELAY_IP = '10.201.0.1';
const CHAIN_ID = 31337;
/** At least 256 MiB, and not a multiple of any frame or chunk size. */
const PAYLOAD_BYTES = 256 * 1024 * 1024 + 12_345;
const PAGE = 'hello from behind NAT B\n';
const READY_TIMEOUT_MS = 180_000;
const COMMAND_TIMEOUT_MS = 30_000;
const NOT_ROOT = process.getuid?.() !== 0;
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/** What the test tells one node process (in a 0600 file the process deletes once read). */
interface ChildConfig {
  role: 'relay' | 'service' | 'client';
  dataDir: string;
  listen: string[];
  /** service and client: the chain the relay runs. */
  rpcUrl?: string;
  contracts?: Record<string, string>;
  /** client: the service to forward a local port to. */
  serviceId?: string;
}

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
    // The chain sits on the shared segment so that both NATed nodes reach it.
    anvil = new AnvilSupervisor({ dataDir: cfg.dataDir, host: RELAY_IP, chainId: CHAIN_ID, silent: true });
    await anvil.start();
    rpcUrl = anvil.rpcUrl;
  }
  let daemon: Daemon | undefined;
  const shutdown = async (code: number) => {
    const timer = setTimeout(() => process.exit(code), 10_000);
    timer.unref();
    await daemon?.stop().catch(() => {});
    await anvil?.stop().catch(() => {});
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown(0));
  process.stdin.on('end', () => void shutdown(0));
  try {
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
      wallet: Wallet.generate(),
      log,
      // The relay deployed the contracts: as the network operator it is bootstrap and relay.
      p2p: { listen: cfg.listen, operator: cfg.role === 'relay' },
      api: false,
    });
    const net = daemon.network;
    if (!net) throw new Error('the daemon started without its network');
    const host = net.host;
    const addrs = () => host.multiaddrs().map((a) => a.toString());
    const base = { ready: true, peerId: host.peerId.toString() };
    if (cfg.role === 'relay') {
      const i = daemon.info.chain;
      report({
        ...base,
        multiaddrs: addrs(),
        rpcUrl,
        anvilPid: anvil?.pid,
        contracts: { ...i.contracts, networkServiceId: i.networkServiceId },
      });
    } else if (cfg.role === 'service') {
      const payload = randomBytes(PAYLOAD_BYTES);
      const web = createServer((req, res) => res.end(req.url === '/big' ? payload : PAGE));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      // Clients can only come through the relay: wait for the reservation there.
      for (let i = 0; i < 300 && !addrs().some((a) => a.includes('/p2p-circuit')); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!addrs().some((a) => a.includes('/p2p-circuit'))) {
        throw new Error(`no relay reservation after 30 s: ${addrs().join(' ')}`);
      }
      const view = await net.services.publish({
        name: 'web',
        type: 'http',
        target: `127.0.0.1:${(web.address() as { port: number }).port}`,
        policy: 'public',
      });
      report({
        ...base,
        multiaddrs: addrs(),
        serviceId: view.id.toString(),
        sha256: createHash('sha256').update(payload).digest('hex'),
      });
    } else {
      const c = await net.services.connect({ serviceId: BigInt(cfg.serviceId!), listen: '127.0.0.1:0' });
      const proxy = await net.services.startProxy({ listen: '127.0.0.1:0' });
      report({
        ...base,
        multiaddrs: addrs(),
        localAddress: c.localAddress,
        proxyAddress: proxy.localAddress,
      });
    }
    // Queries from the test, one JSON line each way.
    for await (const line of createInterface({ input: process.stdin })) {
      const cmd = JSON.parse(line) as { id: number; op: string };
      if (cmd.op === 'connections') {
        const connections = host.libp2p.getConnections().map((x) => ({
          peer: x.remotePeer.toString(),
          remoteAddr: x.remoteAddr.toString(),
        }));
        report({ id: cmd.id, connections, connectionViews: net.services.connections() });
      } else {
        report({ id: cmd.id, error: `unknown op ${cmd.op}` });
      }
    }
  } catch (err) {
    process.stderr.write(`${cfg.role} failed: ${(err as Error).stack ?? err}\n`);
    report({ ready: false, error: (err as Error).message });
    await shutdown(1);
  }
}

// ─────────────────────────────────────────── the test ───────────────────────────────────────────

/** One node process in a namespace: its ready message, queries, and its stderr for failures. */
class NodeProcess {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #ready = Promise.withResolvers<Record<string, unknown>>();
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  #next = 1;

  constructor(namespace: string, configPath: string) {
    const env: NodeJS.ProcessEnv = { ...process.env, DIBS_NAT_TUNNEL_CONFIG: configPath };
    // Run as a plain script, not as a test file of the runner that started this one.
    delete env.NODE_TEST_CONTEXT;
    this.child = spawn('ip', ['netns', 'exec', namespace, process.execPath, SELF], {
      cwd: ROOT,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.stderr.push(l);
      if (this.stderr.length > 200) this.stderr.shift();
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
    });
  }

  tail(): string {
    return this.stderr.slice(-30).join('\n');
  }

  ready(): Promise<Record<string, unknown>> {
    return bounded(this.#ready.promise, READY_TIMEOUT_MS, 'node start');
  }

  async query(op: string): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify({ id, op })}\n`);
    try {
      return await bounded(answer, COMMAND_TIMEOUT_MS, op);
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** SIGTERM by PID, SIGKILL after a bounded wait. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
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
  describe('services through connect across two NATs and a relay', {
    skip: NOT_ROOT && !IN_CI ? 'needs root: creates network namespaces and iptables NAT rules' : false,
  }, () => {
    const prefix = `dibs-nt-${randomBytes(3).toString('hex')}`;
    const nodes: NodeProcess[] = [];
    let dir = '';
    let topologyUp = false;
    let anvilPid: number | undefined;
    let service: NodeProcess;
    let client: NodeProcess;
    let servicePeer = '';
    let localAddress = '';
    let proxyAddress = '';
    let payloadSha = '';

    async function start(role: ChildConfig['role'], listen: string[], extra: Partial<ChildConfig> = {}) {
      const dataDir = join(dir, role);
      const configPath = join(dir, `${role}.json`);
      const config: ChildConfig = { role, dataDir, listen, ...extra };
      await writeFile(configPath, JSON.stringify(config), { mode: 0o600 });
      const node = new NodeProcess(`${prefix}-${role}`, configPath);
      nodes.push(node);
      return { node, ready: await node.ready() };
    }

    /** curl inside the client's namespace (by default to the client's forward listener); returns the body. */
    async function curlInClient(
      path: string,
      args: string[] = [`http://${localAddress}${path}`],
    ): Promise<Buffer> {
      const { stdout } = await run(
        'ip',
        ['netns', 'exec', `${prefix}-client`, 'curl', '-sS', '--max-time', '120', ...args],
        {
          encoding: 'buffer',
          maxBuffer: 1024 * 1024,
          timeout: 150_000,
        },
      );
      return stdout;
    }

    before(async () => {
      if (NOT_ROOT) {
        throw new Error(
          'this test needs root (network namespaces, iptables NAT) and CI is set, so it may not be skipped: run the suite as root',
        );
      }
      dir = await mkdtemp(join(tmpdir(), 'dibs-nat-tunnel-'));
      await run(TOPOLOGY, ['up', prefix], { timeout: 30_000 });
      topologyUp = true;
      const relay = await start('relay', [`/ip4/${RELAY_IP}/tcp/0`]);
      anvilPid = relay.ready.anvilPid as number | undefined;
      const relayAddr = (relay.ready.multiaddrs as string[]).find((a) =>
        a.startsWith(`/ip4/${RELAY_IP}/tcp/`),
      );
      assert.ok(
        relayAddr?.includes('/p2p/'),
        `the relay listens on the shared segment: ${relay.ready.multiaddrs}`,
      );
      const chain = {
        rpcUrl: relay.ready.rpcUrl as string,
        contracts: relay.ready.contracts as Record<string, string>,
      };
      const svc = await start('service', ['/ip4/0.0.0.0/tcp/0', `${relayAddr}/p2p-circuit`], chain);
      service = svc.node;
      servicePeer = svc.ready.peerId as string;
      payloadSha = svc.ready.sha256 as string;
      const cli = await start('client', ['/ip4/0.0.0.0/tcp/0'], {
        ...chain,
        serviceId: svc.ready.serviceId as string,
      });
      client = cli.node;
      localAddress = cli.ready.localAddress as string;
      proxyAddress = cli.ready.proxyAddress as string;
    });

    after(async () => {
      for (const node of nodes.reverse()) await node.stop();
      if (anvilPid !== undefined) {
        try {
          // Normally gone with the relay process; only a killed relay leaves it behind.
          process.kill(anvilPid, 'SIGKILL');
        } catch {}
      }
      if (topologyUp) await run(TOPOLOGY, ['down', prefix], { timeout: 30_000 });
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('curl in the client namespace gets the page through the forward listener', async () => {
      assert.match(localAddress, /^127\.0\.0\.1:\d+$/);
      assert.equal((await curlInClient('/')).toString('utf8'), PAGE, client?.tail());
    });

    it('curl --socks5-hostname in the client namespace reaches web.dibs through the proxy', async () => {
      assert.match(proxyAddress, /^127\.0\.0\.1:\d+$/);
      const page = await curlInClient('/', ['--socks5-hostname', proxyAddress, 'http://web.dibs/']);
      assert.equal(page.toString('utf8'), PAGE, client?.tail());
    });

    it('every client connection to the service host runs over the relay', async () => {
      const r = await client.query('connections');
      const toService = (r.connections as Array<{ peer: string; remoteAddr: string }>).filter(
        (c) => c.peer === servicePeer,
      );
      assert.ok(toService.length > 0, `the client is connected to the service host: ${JSON.stringify(r)}`);
      for (const c of toService) assert.match(c.remoteAddr, /\/p2p-circuit/, 'relayed, not direct');
    });

    it('a body of over 256 MiB arrives whole: its sha256 matches the one the service computed', async () => {
      // Written to a file by curl and hashed from there (not held in a pipe buffer of this process).
      const file = join(dir, 'big.body');
      await curlInClient('/big', ['-o', file, `http://${localAddress}/big`]);
      const digest = await takeFileDigest(file);
      assert.equal(digest.length, PAYLOAD_BYTES);
      assert.equal(digest.sha256, payloadSha);
      const views = (await client.query('connections')).connectionViews as Array<{ bytesIn: number }>;
      assert.ok(views[0] && views[0].bytesIn >= PAYLOAD_BYTES, `bytes counted: ${JSON.stringify(views)}`);
      assert.ok(service.child.exitCode === null, 'the service node is still up');
    });
  });
}

const childConfig = process.env.DIBS_NAT_TUNNEL_CONFIG;
if (childConfig) await runChild(childConfig);
else defineTests();
