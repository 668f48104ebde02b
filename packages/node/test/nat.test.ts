/**
 * NAT traversal through a relay, in network namespaces this test creates (test/netns/topology.sh):
 * a client behind MASQUERADE NAT A and a service behind MASQUERADE NAT B reach each other only through
 * a relay on the shared segment; admission runs over the relayed connection. Needs root.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { issueTicket } from '../../../test/netns/ticket.ts';
import { walletKey } from './helpers.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOPOLOGY = join(ROOT, 'test/netns/topology.sh');
const FIXTURE = join(ROOT, 'test/netns/node-fixture.ts');
const RELAY_IP = '10.201.0.1';
const NAT_A_WAN = '10.201.0.2';
const SERVICE_LAN_IP = '192.168.102.2';
const NOT_ROOT = process.getuid?.() !== 0;

/** A node process inside a namespace, driven by JSON-line commands. */
class FixtureNode {
  readonly child: ChildProcess;
  readonly stderr: string[] = [];
  readonly #waiting = new Map<number, (msg: Record<string, unknown>) => void>();
  readonly #ready = Promise.withResolvers<{ peerId: string; multiaddrs: string[] }>();
  #next = 1;

  constructor(ns: string, configPath: string) {
    // The Node 24 binary running this test; secrets reach the child through the config file only.
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, FIXTURE], {
      cwd: ROOT,
      env: { ...process.env, DIBS_NETNS_CONFIG: configPath },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      if (this.stderr.length < 500) this.stderr.push(l);
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(l);
      } catch {
        return;
      }
      if (msg.ready) this.#ready.resolve(msg as { peerId: string; multiaddrs: string[] });
      else this.#waiting.get(msg.id as number)?.(msg);
    });
    this.child.on('exit', (code, signal) => {
      this.#ready.reject(new Error(`fixture in ${ns} exited (${code ?? signal}): ${this.stderr.join('\n')}`));
      for (const w of this.#waiting.values()) w({ ok: false, error: `fixture exited (${code ?? signal})` });
    });
  }

  ready(timeoutMs = 30_000): Promise<{ peerId: string; multiaddrs: string[] }> {
    return bounded(this.#ready.promise, timeoutMs, 'fixture start');
  }

  /** Sends one command; resolves with its answer (ok true or false). */
  async send(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000) {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    try {
      return await bounded(answer, timeoutMs, op);
    } finally {
      this.#waiting.delete(id);
    }
  }

  /** Sends a command that must succeed. */
  async must(op: string, args: Record<string, unknown> = {}) {
    const r = await this.send(op, args);
    assert.equal(r.ok, true, `${op} failed: ${r.error}\n${this.stderr.slice(-20).join('\n')}`);
    return r;
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

async function ns(name: string, ...argv: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', name, ...argv], { timeout: 10_000 })).stdout;
}

describe('NAT traversal through a relay', {
  skip: NOT_ROOT ? 'needs root: creates network namespaces and iptables NAT rules' : false,
}, () => {
  const prefix = `dibs-nat-${randomBytes(3).toString('hex')}`;
  const operator = walletKey();
  const nodes: FixtureNode[] = [];
  let dir = '';
  let topologyUp = false;
  let relay: FixtureNode;
  let client: FixtureNode;
  let service: FixtureNode;
  let relayAddr = '';
  let servicePeer = '';

  async function start(name: 'relay' | 'client' | 'service', listen: string[], grantId: bigint) {
    const key = walletKey();
    const ticket = await issueTicket(
      operator,
      peerIdFromPrivateKey(privateKeyFromRaw(key)),
      grantId,
      3_600_000,
    );
    const path = join(dir, `${name}.json`);
    const config = {
      key: Buffer.from(key).toString('hex'),
      ticket: Buffer.from(ticket).toString('hex'),
      operator: Buffer.from(privateKeyFromRaw(operator).publicKey.raw).toString('hex'),
      listen,
      relay: name === 'relay',
    };
    await writeFile(path, JSON.stringify(config), { mode: 0o600 });
    const node = new FixtureNode(`${prefix}-${name}`, path);
    nodes.push(node);
    return node;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dibs-nat-'));
    await run(TOPOLOGY, ['up', prefix], { timeout: 30_000 });
    topologyUp = true;
    relay = await start('relay', [`/ip4/${RELAY_IP}/tcp/0`], 1n);
    const r = await relay.ready();
    relayAddr = r.multiaddrs.find((a) => a.startsWith(`/ip4/${RELAY_IP}/tcp/`))!;
    assert.ok(relayAddr, `the relay listens on the shared segment: ${r.multiaddrs}`);
    // The service listens on its LAN and through the relay (a reservation, made once the relay admitted it).
    service = await start('service', ['/ip4/0.0.0.0/tcp/0', `${relayAddr}/p2p-circuit`], 2n);
    servicePeer = (await service.ready()).peerId;
    client = await start('client', ['/ip4/0.0.0.0/tcp/0'], 3n);
    await client.ready();
  });

  after(async () => {
    for (const node of nodes) {
      const pid = node.child.pid;
      if (pid !== undefined && node.child.exitCode === null && node.child.signalCode === null) {
        const exited = new Promise((r) => node.child.once('exit', r));
        node.child.kill('SIGTERM');
        const timer = setTimeout(() => node.child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    }
    if (topologyUp) await run(TOPOLOGY, ['down', prefix], { timeout: 30_000 });
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the service holds a relay reservation made through NAT B', async () => {
    let circuit: string | undefined;
    for (let i = 0; i < 100 && !circuit; i++) {
      const r = await service.must('addrs');
      circuit = (r.multiaddrs as string[]).find((a) => a.includes('/p2p-circuit'));
      if (!circuit) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(circuit?.startsWith(relayAddr), `a circuit address on the relay, got ${circuit}`);
  });

  it('the client cannot reach the service directly: its LAN address has no route from NAT A', async () => {
    const direct = await service.must('addrs');
    const lan = (direct.multiaddrs as string[]).find((a) => a.startsWith(`/ip4/${SERVICE_LAN_IP}/tcp/`));
    assert.ok(lan, 'the service listens on its private LAN address');
    const r = await client.send('dial', { addr: lan });
    assert.equal(r.ok, false, 'a direct dial from behind NAT A to the LAN behind NAT B fails');
    assert.match(
      String(r.error),
      /ENETUNREACH|EHOSTUNREACH|ETIMEDOUT|abort/i,
      'it fails for lack of a route',
    );
  });

  it('a request from behind NAT A reaches the service behind NAT B through the relay', async () => {
    await client.must('connect', { addr: relayAddr });
    const circuit = ((await service.must('addrs')).multiaddrs as string[]).find((a) =>
      a.includes('/p2p-circuit'),
    )!;
    const answer = await client.must('request', { addr: circuit, text: 'across two NATs' });
    const reply = answer.reply as { echo: string; from: string; peer: string };
    assert.equal(reply.echo, 'across two NATs');
    assert.match(reply.from, /\/p2p-circuit/, 'the service saw the request arrive over the circuit');

    // Admission ran over the relayed connection, both ways.
    const clientPeer = (await client.must('addrs')).multiaddrs as string[];
    const clientId = clientPeer[0]!.split('/p2p/').pop()!;
    assert.equal((await service.must('admitted', { peer: clientId })).admitted, true);
    assert.equal((await client.must('admitted', { peer: servicePeer })).admitted, true);
    const toService = (
      (await client.must('connections')).connections as Array<Record<string, string>>
    ).filter((c) => c.peer === servicePeer);
    assert.ok(toService.length > 0);
    assert.ok(
      toService.every((c) => c.remoteAddr!.includes('/p2p-circuit')),
      `every client connection to the service is relayed: ${JSON.stringify(toService)}`,
    );
  });

  it('the relay sees the client and the service only as their NATs’ public addresses', async () => {
    const conns = (await relay.must('connections')).connections as Array<Record<string, string>>;
    const clientId = ((await client.must('addrs')).multiaddrs as string[])[0]!.split('/p2p/').pop()!;
    const fromClient = conns.filter((c) => c.peer === clientId);
    const fromService = conns.filter((c) => c.peer === servicePeer);
    assert.ok(fromClient.length > 0 && fromService.length > 0, 'both ends are connected to the relay');
    for (const c of fromClient) assert.ok(c.remoteAddr!.startsWith(`/ip4/${NAT_A_WAN}/tcp/`), c.remoteAddr);
    for (const c of fromService) assert.ok(c.remoteAddr!.startsWith('/ip4/10.201.0.3/tcp/'), c.remoteAddr);
    const counters = await ns(
      `${prefix}-nata`,
      'iptables',
      '-t',
      'nat',
      '-L',
      'POSTROUTING',
      '-v',
      '-x',
      '-n',
    );
    const masq = counters.split('\n').find((l) => l.includes('MASQUERADE'));
    assert.ok(masq && Number(masq.trim().split(/\s+/)[0]) > 0, `NAT A masqueraded packets: ${masq}`);
  });
});
