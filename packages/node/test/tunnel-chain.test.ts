import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sendContractWrite } from '@dibs/chain';
import { accessGrantsAbi, organizationsAbi, Policy, tokenAbi } from '@dibs/contracts';
import { type Abi, type Address, formatUnits } from 'viem';
import type { HeldTicket } from '../src/access/access-client.ts';
import type { NetworkRuntime } from '../src/daemon/network.ts';
import { updateServicePolicy } from '../src/services/policy.ts';
import {
  type DataChannelOptions,
  type HostedService,
  openTunnel,
  SecureChannel,
  TunnelError,
  TunnelServer,
  TunnelSessionTable,
  TUNNEL_PROTOCOL,
} from '../src/tunnel/index.ts';
import { type ChainBed, type ChainParty, startChainBed } from './chain-nodes.ts';
import { memoryLogger, readAll, waitFor } from './helpers.ts';

/** A TCP server on loopback port 0 that tracks its sockets. */
async function target(
  onSocket: (s: Socket) => void,
): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

describe('tunnels on a real chain with real service tickets', () => {
  let bed: ChainBed;
  let hostNode: NetworkRuntime;
  let clientParty: ChainParty;
  let clientNode: NetworkRuntime;
  let thiefNode: NetworkRuntime;
  let server: TunnelServer;
  const services = new Map<bigint, HostedService>();
  const targets: Server[] = [];
  const logger = memoryLogger();
  let echoPort: number;
  let hashPort: number;
  let sinkSockets: Set<Socket>;
  let sinkPort: number;
  let echoService: bigint;
  let vpnService: bigint;
  let deadService: bigint;
  let otherService: bigint;

  async function publish(
    type: string,
    name: string,
    hosted?: Omit<HostedService, 'serviceId' | 'serviceType'>,
  ) {
    const id = await bed.operator.registry.publishService({
      serviceType: type,
      name,
      grantDuration: 3600n,
      host: bed.operator.wallet.address,
      policy: Policy.Public,
    });
    if (hosted) services.set(id, { serviceId: id, serviceType: type, ...hosted });
    return id;
  }

  async function ticketFor(serviceId: bigint, p = clientParty): Promise<HeldTicket> {
    const access = bed.access(p);
    const held = await access.request(serviceId);
    return access.ticket(held.grantId);
  }

  async function startServer(dataChannel?: DataChannelOptions) {
    return TunnelServer.start({
      host: hostNode.host,
      verifier: bed.verifier(bed.operator, hostNode),
      sessions: hostNode.sessions,
      lookup: (id) => services.get(id),
      catchUp: async () => {
        await hostNode.mirror.syncOnce();
      },
      logger,
      ...(dataChannel ? { dataChannel } : {}),
    });
  }

  before(async () => {
    bed = await startChainBed('dibs-tunnel-');
    hostNode = await bed.startNode(bed.operator);
    clientParty = await bed.party('client');
    clientNode = await bed.startNode(clientParty);
    thiefNode = await bed.startNode(await bed.party('thief'));
    const echo = await target((s) => s.pipe(s));
    const hash = await target((s) => {
      const h = createHash('sha256');
      s.on('data', (c) => h.update(c));
      s.on('end', () => s.end(h.digest('hex')));
    });
    const sink = await target((s) => s.resume());
    targets.push(echo.server, hash.server, sink.server);
    echoPort = echo.port;
    hashPort = hash.port;
    sinkPort = sink.port;
    sinkSockets = sink.sockets;
    echoService = await publish('tcp', 'echo', { target: { host: '127.0.0.1', port: echoPort } });
    await publish('tcp', 'hash', { target: { host: '127.0.0.1', port: hashPort } });
    vpnService = await publish('vpn', 'lan', {
      allow: [{ cidr: '127.0.0.0/8', ports: [[echoPort, echoPort]] }],
    });
    // A port that was just free: nothing listens there.
    const gone = await target(() => {});
    await new Promise<void>((r) => gone.server.close(() => r()));
    deadService = await publish('tcp', 'dead', { target: { host: '127.0.0.1', port: gone.port } });
    otherService = await publish('tcp', 'not-served-here');
    // The node's own services runtime serves the protocol from its catalog; this suite serves its own table.
    await hostNode.host.libp2p.unhandle(TUNNEL_PROTOCOL);
    server = await startServer();
  });

  after(async () => {
    await server?.stop();
    for (const t of targets) t.close();
    for (const s of sinkSockets ?? []) s.destroy();
    await bed?.stop();
  });

  test('byte-exact echo through the data channel, half-close both ways, listed on both ends', async () => {
    const held = await ticketFor(echoService);
    const registry = new TunnelSessionTable();
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: held,
      registry,
    });
    assert.equal(tunnel.path, 'direct');
    assert.equal(tunnel.channel, 'data');
    const [mine] = registry.list();
    assert.equal(mine?.direction, 'outbound');
    assert.equal(mine?.serviceId, echoService);
    // The host lists the tunnel once it read the client's start message.
    assert.ok(await waitFor(() => server.sessions().some((s) => s.id === tunnel.sessionId)));
    const theirs = server.sessions().find((s) => s.id === tunnel.sessionId);
    assert.equal(theirs?.direction, 'inbound');
    assert.equal(theirs?.peerId, clientNode.host.peerId.toString());
    assert.deepEqual(theirs?.destination, { host: '127.0.0.1', port: echoPort });
    const payload = randomBytes(300_000);
    const back = readAll(tunnel.socket);
    tunnel.socket.write(payload.subarray(0, 1));
    tunnel.socket.end(payload.subarray(1));
    // The echo target ends its side only after ours arrived: the end went through, and came back.
    assert.deepEqual(await back, payload);
    assert.equal(tunnel.bytesOut(), payload.length);
    assert.equal(tunnel.bytesIn(), payload.length);
    assert.ok(await waitFor(() => server.sessions().length === 0 && registry.size === 0));
  });

  test('64 MiB through the tunnel arrive intact (sha256)', async () => {
    const hashService = [...services.values()].find((s) => s.target?.port === hashPort)!.serviceId;
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: await ticketFor(hashService),
    });
    const expected = createHash('sha256');
    const reply = readAll(tunnel.socket);
    const chunk = 1 << 20;
    for (let i = 0; i < 64; i++) {
      const block = randomBytes(chunk);
      expected.update(block);
      if (!tunnel.socket.write(block)) await new Promise((r) => tunnel.socket.once('drain', r));
    }
    tunnel.socket.end();
    assert.equal((await reply).toString(), expected.digest('hex'));
    assert.equal(tunnel.bytesOut(), 64 * chunk);
  });

  test('a ticket for a service this node does not serve, and one from another key, are refused', async () => {
    await assert.rejects(
      openTunnel({
        host: clientNode.host,
        peer: hostNode.host.peerId,
        ticket: await ticketFor(otherService),
      }),
      (err: unknown) => err instanceof TunnelError && err.code === 'UNKNOWN_SERVICE',
    );
    // The thief holds the client's ticket AND its session key, but not the client's wallet key.
    const stolen = await ticketFor(echoService);
    await assert.rejects(
      openTunnel({ host: thiefNode.host, peer: hostNode.host.peerId, ticket: stolen }),
      (err: unknown) =>
        err instanceof TunnelError && err.code === 'TICKET_REFUSED' && err.detail === 'WRONG_PEER',
    );
    assert.ok(logger.lines.some((l) => l.msg === 'tunnel refused' && l.fields?.detail === 'WRONG_PEER'));
  });

  test('vpn: a name resolved at the exit inside `allow` works; outside is DESTINATION_NOT_ALLOWED', async () => {
    const held = await ticketFor(vpnService);
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: held,
      destination: { host: 'localhost', port: echoPort },
    });
    const back = readAll(tunnel.socket);
    tunnel.socket.end('inside');
    assert.equal((await back).toString(), 'inside');
    for (const destination of [
      { host: '127.0.0.1', port: hashPort },
      { host: '10.9.9.9', port: echoPort },
    ]) {
      await assert.rejects(
        openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: held, destination }),
        (err: unknown) => err instanceof TunnelError && err.code === 'DESTINATION_NOT_ALLOWED',
      );
    }
    // A tcp service's ticket does not turn into a vpn: its fixed target only.
    await assert.rejects(
      openTunnel({
        host: clientNode.host,
        peer: hostNode.host.peerId,
        ticket: await ticketFor(echoService),
        destination: { host: '127.0.0.1', port: hashPort },
      }),
      (err: unknown) => err instanceof TunnelError && err.code === 'DESTINATION_NOT_ALLOWED',
    );
  });

  test('an unreachable target is a clear TARGET_UNREACHABLE', async () => {
    await assert.rejects(
      openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: await ticketFor(deadService) }),
      (err: unknown) =>
        err instanceof TunnelError && err.code === 'TARGET_UNREACHABLE' && /127\.0\.0\.1/.test(err.message),
    );
  });

  test('client vanishing mid-transfer: the host closes the target socket and forgets the session', async () => {
    const sinkService = await publish('tcp', 'sink', { target: { host: '127.0.0.1', port: sinkPort } });
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: await ticketFor(sinkService),
    });
    tunnel.socket.on('error', () => {});
    for (let i = 0; i < 8; i++) tunnel.socket.write(randomBytes(256 * 1024));
    assert.ok(await waitFor(() => sinkSockets.size === 1));
    assert.ok(tunnel.socket instanceof SecureChannel);
    tunnel.socket.socket.destroy();
    assert.ok(await waitFor(() => sinkSockets.size === 0), 'target socket closed');
    assert.ok(await waitFor(() => server.sessions().length === 0), 'no leaked sessions');
    assert.equal(hostNode.sessions.size >= 0, true);
  });

  test('a tampered data-channel record closes the tunnel', async () => {
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: await ticketFor(echoService),
    });
    assert.ok(tunnel.socket instanceof SecureChannel);
    const closed = new Promise<void>((r) => tunnel.socket.once('close', () => r()));
    tunnel.socket.on('error', () => {});
    // A well-formed header and a tag that cannot verify, straight onto the TCP connection.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(5);
    tunnel.socket.socket.write(Buffer.concat([header, Buffer.from('hello'), randomBytes(16)]));
    await closed;
    assert.ok(await waitFor(() => server.sessions().length === 0));
    assert.ok(logger.lines.length > 0);
  });

  test('garbage, oversized and stalled requests reset only their own stream; a live tunnel keeps going', async () => {
    const live = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: await ticketFor(echoService),
    });
    const echoed = readAll(live.socket);
    live.socket.write('before ');
    const raw = async (bytes: Uint8Array | null) => {
      const stream = await clientNode.host.libp2p.dialProtocol(hostNode.host.peerId, TUNNEL_PROTOCOL, {
        signal: AbortSignal.timeout(5_000),
      });
      if (bytes) stream.send(bytes);
      return waitFor(() => stream.status !== 'open', 15_000);
    };
    const before = logger.lines.length;
    assert.ok(await raw(Uint8Array.of(0x00, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff)), 'garbage: reset');
    assert.ok(await raw(Uint8Array.of(0xff, 0xff)), 'oversized length: reset');
    assert.ok(await raw(null), 'stalled: reset after the message timeout');
    const reasons = logger.lines
      .slice(before)
      .filter((l) => l.msg === 'tunnel refused')
      .map((l) => l.fields?.code);
    assert.deepEqual(reasons.sort(), ['MALFORMED', 'TIMEOUT', 'TOO_LARGE']);
    live.socket.end('after');
    assert.equal((await echoed).toString(), 'before after');
  });

  test('revoking the grant on chain closes a live tunnel', async () => {
    const access = bed.access(clientParty);
    const grant = await access.request(echoService);
    const held = await access.ticket(grant.grantId);
    const tunnel = await openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: held });
    let closed = false;
    tunnel.socket.once('close', () => {
      closed = true;
    });
    tunnel.socket.on('error', () => {});
    tunnel.socket.write('still here?');
    assert.ok(await waitFor(() => server.sessions().length === 1));
    const receipt = await bed.operator.registry.revokeGrant(grant.grantId);
    // The host learns it from its own chain mirror, within its bound of blocks.
    const maxBlocks = hostNode.cache.revocationMaxBlocks;
    for (let i = 0; i <= maxBlocks + 1 && !closed; i++) {
      await hostNode.mirror.syncOnce();
      if (await waitFor(() => closed, 1_000)) break;
      await bed.mine();
    }
    assert.ok(closed, `the live tunnel was closed: ${JSON.stringify(logger.lines.slice(-5))}`);
    const head = await bed.operator.clients.publicClient.getBlockNumber({ cacheTime: 0 });
    assert.ok(
      head - receipt.blockNumber <= BigInt(maxBlocks + 1),
      `closed ${head - receipt.blockNumber} blocks later`,
    );
    assert.ok(await waitFor(() => server.sessions().length === 0));
    assert.ok(
      logger.lines.some((l) => l.msg === 'tunnel closed by chain state' && l.fields?.code === 'REVOKED'),
    );
    await assert.rejects(
      openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: held }),
      (err: unknown) => err instanceof TunnelError && err.detail === 'REVOKED',
    );
  });

  test('a holder who stops meeting the policy loses its live tunnel: allowlist removal, member removal, token threshold raised, token sale', async () => {
    const write = (
      p: ChainParty,
      contract: string,
      address: Address,
      abi: Abi,
      fn: string,
      args: unknown[],
    ) => sendContractWrite(p.clients, { contract, address, abi, functionName: fn, args });
    const d = bed.deployment;
    const me = clientParty.wallet.address as Address;
    const guarded = async (name: string, policy: number, policyRef: bigint, tokenThreshold?: bigint) => {
      const id = await bed.operator.registry.publishService({
        serviceType: 'tcp',
        name,
        grantDuration: 3600n,
        host: bed.operator.wallet.address,
        policy,
        policyRef,
        ...(tokenThreshold !== undefined ? { tokenThreshold } : {}),
      });
      services.set(id, { serviceId: id, serviceType: 'tcp', target: { host: '127.0.0.1', port: echoPort } });
      return id;
    };
    /** Opens a tunnel on `serviceId`, ends the holder's standing with `lose`, expects the tunnel closed within the bound. */
    const endsTunnel = async (serviceId: bigint, lose: () => Promise<{ blockNumber: bigint }>) => {
      const held = await ticketFor(serviceId);
      const tunnel = await openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: held });
      let closed = false;
      tunnel.socket.once('close', () => {
        closed = true;
      });
      tunnel.socket.on('error', () => {});
      const echoed = new Promise<Buffer>((resolve) => tunnel.socket.once('data', resolve));
      tunnel.socket.write('member');
      assert.equal((await echoed).toString(), 'member', 'the tunnel works while the holder meets the policy');
      assert.ok(await waitFor(() => server.sessions().some((x) => x.serviceId === serviceId)));
      const receipt = await lose();
      const maxBlocks = hostNode.cache.revocationMaxBlocks;
      for (let i = 0; i <= maxBlocks + 1 && !closed; i++) {
        await hostNode.mirror.syncOnce();
        if (await waitFor(() => closed, 1_000)) break;
        await bed.mine();
      }
      assert.ok(closed, `service ${serviceId}: the live tunnel was closed`);
      const head = await bed.operator.clients.publicClient.getBlockNumber({ cacheTime: 0 });
      assert.ok(
        head - receipt.blockNumber <= BigInt(maxBlocks + 1),
        `closed ${head - receipt.blockNumber} blocks later`,
      );
      await assert.rejects(
        openTunnel({ host: clientNode.host, peer: hostNode.host.peerId, ticket: held }),
        (err: unknown) => err instanceof TunnelError && err.detail === 'POLICY_UNMET',
      );
    };
    const before = logger.lines.length;

    // Allowlist.
    const listed = await guarded('listed', Policy.Allowlist, 0n);
    await write(bed.operator, 'Services', d.accessGrants, accessGrantsAbi as Abi, 'setAllowlist', [
      listed,
      [me],
      true,
    ]);
    await endsTunnel(listed, () =>
      write(bed.operator, 'Services', d.accessGrants, accessGrantsAbi as Abi, 'setAllowlist', [
        listed,
        [me],
        false,
      ]),
    );

    // Organization membership.
    const orgId = await bed.operator.registry.createOrganization({ name: 'Staff', networkLabel: 'staff' });
    await bed.operator.registry.addMember(orgId, me);
    const staff = await guarded('staff-only', Policy.OrgMembers, orgId);
    await endsTunnel(staff, () =>
      write(bed.operator, 'Organizations', d.organizations, organizationsAbi as Abi, 'removeMember', [
        orgId,
        me,
      ]),
    );

    // Token holders: the client sells every token it holds.
    await write(bed.operator, 'Token', d.token, tokenAbi as Abi, 'mint', [me, 10n]);
    const holders = await guarded('holders', Policy.TokenHolders, BigInt(d.token));
    const held = await bed.operator.clients.publicClient.readContract({
      address: d.token,
      abi: tokenAbi,
      functionName: 'balanceOf',
      args: [me],
    });

    // A token threshold (set at publish, then edited in the token's units through the service
    // library): a holder below it is refused a grant; raised above a live holder's balance, it ends
    // the holder's tunnel within the revocation bound.
    const owner = { registry: bed.operator.registry, self: bed.operator.wallet.address as Address };
    const gated = await guarded('gated', Policy.TokenHolders, BigInt(d.token), held + 1n);
    await assert.rejects(
      bed.access(clientParty).request(gated),
      (err: unknown) => (err as { errorName?: string }).errorName === 'NotAllowed',
    );
    await updateServicePolicy(owner, gated, { tokenThreshold: formatUnits(held, 18) });
    await endsTunnel(gated, async () => {
      await updateServicePolicy(owner, gated, { tokenThreshold: formatUnits(held + 1n, 18) });
      return { blockNumber: await bed.operator.clients.publicClient.getBlockNumber({ cacheTime: 0 }) };
    });

    await endsTunnel(holders, () =>
      write(clientParty, 'Token', d.token, tokenAbi as Abi, 'transfer', [bed.operator.wallet.address, held]),
    );
    const codes = logger.lines
      .slice(before)
      .filter((l) => l.msg === 'tunnel closed by chain state')
      .map((l) => l.fields?.code);
    assert.deepEqual(codes, ['POLICY_UNMET', 'POLICY_UNMET', 'POLICY_UNMET', 'POLICY_UNMET']);
  });

  test('data port unreachable: the tunnel falls back to the libp2p stream', async () => {
    await server.stop();
    const gone = await target(() => {});
    await new Promise<void>((r) => gone.server.close(() => r()));
    server = await startServer({ announce: { hosts: ['127.0.0.1'], port: gone.port } });
    const tunnel = await openTunnel({
      host: clientNode.host,
      peer: hostNode.host.peerId,
      ticket: await ticketFor(echoService),
      dataConnectTimeoutMs: 1_000,
    });
    assert.equal(tunnel.channel, 'stream');
    assert.ok(await waitFor(() => server.sessions().length === 1));
    assert.equal(server.sessions()[0]?.channel, 'stream');
    const payload = randomBytes(2_000_000);
    const back = readAll(tunnel.socket);
    tunnel.socket.end(payload);
    assert.deepEqual(await back, payload);
    assert.ok(await waitFor(() => server.sessions().length === 0));
  });
});
