/**
 * The L3 VPN across network namespaces (netns/vpn-topology.sh), every node a real daemon in its own
 * process on a real chain: a client behind NAT joins site A (`vpn up`: ping, curl, 256 MiB with
 * matching sha256, a LAN host outside the allowed CIDRs and ports unreachable); two NATed sites link
 * both ways (`vpn site`) with UDP between them dropped, so WireGuard runs through the relay; revoking
 * the grant on chain cuts the L3 path; `vpn down` and a SIGKILLed node's restart leave nothing behind.
 *
 * Each node runs netns/vpn-node.ts in its namespace (netns/vpn-bed.ts). Needs root; without root the
 * suite is skipped, except under CI.
 */

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  inNamespace,
  type NodeProcess,
  RELAY_IP,
  startVpnNode,
  type VpnNodeConfig,
  vpnTopology,
} from './netns/vpn-bed.ts';
import { takeFileDigest } from './netns/file-digest.ts';

const PAYLOAD_BYTES = 256 * 1024 * 1024 + 4321;
/** Longest wait for revocation to cut the path (the mirror's poll plus the revocation bound, generously). */
const REVOCATION_WAIT_MS = 30_000;
const NOT_ROOT = process.getuid?.() !== 0;
/** A LAN host's web server: the files of one directory on port 8080 (`/` is index.html). */
const STATIC_SERVER = `
const { createReadStream, statSync } = require('node:fs');
const { join, normalize } = require('node:path');
const root = process.argv[1];
require('node:http').createServer((req, res) => {
  const name = req.url === '/' ? 'index.html' : normalize(req.url).replace(/^[/.]+/, '');
  const file = join(root, name);
  try {
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  } catch {
    res.writeHead(404).end();
  }
}).listen(8080, '0.0.0.0');
`;
const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

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
    const configs = new Map<string, VpnNodeConfig>();
    let payloadSha = '';

    async function start(
      config: VpnNodeConfig,
      namespace: string,
    ): Promise<{ node: NodeProcess; ready: Record<string, unknown> }> {
      configs.set(config.role, config);
      const started = await startVpnNode(dir, namespace, config);
      nodes.push(started.node);
      return started;
    }

    /** Runs `argv` in namespace `n`; resolves to its stdout, rejects on failure. */
    const inNs = (n: string, argv: string[], timeout = 60_000) => inNamespace(ns(n), argv, timeout);
    const pings = (from: string, to: string) =>
      inNs(from, ['ping', '-c', '1', '-W', '2', to]).then(
        () => true,
        () => false,
      );
    const curl = (from: string, url: string, extra: string[] = []) =>
      inNs(from, ['curl', '-sS', '--max-time', '5', ...extra, url], 180_000);

    /** A web server in namespace `n` serving `root` on port 8080. */
    async function web(n: string, root: string): Promise<void> {
      const child = spawn('ip', ['netns', 'exec', ns(n), process.execPath, '-e', STATIC_SERVER, root], {
        stdio: 'ignore',
      });
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
      await vpnTopology('up', prefix);
      topologyUp = true;
      // Pages on every LAN host; a body of over 256 MiB on site A's and site B's web hosts.
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
        if (n === 'webb') await link(join(dir, 'www-weba', 'big'), join(root, 'big'));
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
      if (topologyUp) await vpnTopology('down', prefix);
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
      const digest = await takeFileDigest(file);
      assert.equal(digest.length, PAYLOAD_BYTES);
      assert.equal(digest.sha256, payloadSha);
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

    it('WireGuard moves to the bridge when UDP to the site stops, and back to direct when it flows again', async () => {
      type Status = { sessions: Array<Record<string, unknown>> };
      const pathNow = async () =>
        ((await client.command({ op: 'vpnStatus' })).vpn as Status).sessions.find(
          (x) => x.serviceId === ids.a && x.role === 'client',
        )?.path;
      const waitFor = async (want: string, ms: number) => {
        const deadline = Date.now() + ms;
        let path = await pathNow();
        while (path !== want && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 1_000));
          path = await pathNow();
        }
        return path;
      };
      assert.equal(await pathNow(), 'direct');
      const rule = ['FORWARD', '-p', 'udp', '-j', 'DROP'];
      await inNs('nata', ['iptables', '-I', ...rule]);
      try {
        assert.equal(await waitFor('relayed', 60_000), 'relayed', client.tail());
        assert.equal(await pings('client', '10.61.0.10'), true, 'the bridge carries the traffic');
      } finally {
        await inNs('nata', ['iptables', '-D', ...rule]);
      }
      // The client probes the direct path 30 s after leaving it; a probe that misses (seen once in CI
      // with UDP already flowing) is retried after its back-off, 60 s later, so allow for two probes.
      assert.equal(await waitFor('direct', 165_000), 'direct', client.tail());
      assert.equal(await pings('client', '10.61.0.10'), true);
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

    it("site-to-site through the relay's UDP port when only UDP between the sites is dropped: 256 MiB, sha256", async () => {
      // Site B's NAT now lets UDP to and from the relay through (and nothing else): both WireGuards send
      // to the relay's datagram relay, no node carries a datagram.
      const allUdp = ['FORWARD', '-p', 'udp', '-j', 'DROP'];
      const notRelay = ['FORWARD', '-p', 'udp', '!', '-s', RELAY_IP, '!', '-d', RELAY_IP, '-j', 'DROP'];
      await client.command({ op: 'vpnDown', serviceId: ids.b });
      await inNs('natb', ['iptables', '-I', ...notRelay]);
      await inNs('natb', ['iptables', '-D', ...allUdp]);
      try {
        const cb = (await client.command({ op: 'vpnUp', serviceId: ids.b, mode: 'site' })).session as Record<
          string,
          unknown
        >;
        assert.equal(cb.path, 'relayed', JSON.stringify(cb));
        assert.match(
          String(cb.endpoint),
          new RegExp(`^${RELAY_IP.replaceAll('.', '\\.')}:\\d+$`),
          JSON.stringify(cb),
        );
        assert.equal(await pings('webc', '10.62.0.10'), true, client.tail());
        assert.equal(await curl('webc', 'http://10.62.0.10:8080/'), 'hello from webb\n');
        const file = join(dir, 'big-relayed.body');
        await curl('webc', 'http://10.62.0.10:8080/big', ['--max-time', '170', '-o', file]);
        const digest = await takeFileDigest(file);
        assert.equal(digest.length, PAYLOAD_BYTES);
        assert.equal(digest.sha256, payloadSha);
        const st = (await client.command({ op: 'vpnStatus' })).vpn as {
          sessions: Array<Record<string, unknown>>;
        };
        const s = st.sessions.find((x) => x.serviceId === ids.b && x.role === 'site')!;
        assert.match(
          String(s.endpoint),
          new RegExp(`^${RELAY_IP.replaceAll('.', '\\.')}:`),
          JSON.stringify(s),
        );
        assert.ok((s.bytesIn as number) > PAYLOAD_BYTES, JSON.stringify(s));
      } finally {
        await client.command({ op: 'vpnDown', serviceId: ids.b }).catch(() => {});
        await inNs('natb', ['iptables', '-I', ...allUdp]);
        await inNs('natb', ['iptables', '-D', ...notRelay]).catch(() => {});
      }
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

    it('vpn down, node stop and the restart after a SIGKILL leave no interface, route or rule', async () => {
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
      // A node stopped with a session up takes it down on the way out. The restarted node has only
      // just joined: its first attempts may find no path to the host yet (each fails within the
      // connector's bound; the host may still hold the killed process's connection until its
      // liveness check drops it), so it tries a bounded number of times over about two minutes.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.command({ op: 'vpnUp', serviceId: ids.b, mode: 'site' });
          break;
        } catch (err) {
          if (attempt >= 16 || !/no path/.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 3_000));
        }
      }
      assert.equal(await pings('webc', '10.62.0.10'), true);
      assert.notDeepEqual(await leftovers('client'), { links: [], tables: [] });
      await client.stop();
      assert.deepEqual(await leftovers('client'), { links: [], tables: [] });
    });
  });
}

defineTests();
