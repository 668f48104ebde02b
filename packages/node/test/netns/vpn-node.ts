/**
 * One DIBS node for the L3 VPN beds (test/vpn-netns.test.ts, bench/vpn.ts), run in a network namespace
 * as its own process: the real daemon on a real chain, optionally publishing a vpn service, answering
 * JSON-line commands on stdin (vpnUp, vpnDown, vpnStatus, revoke) with one JSON line each on stdout.
 * Its config (wallet key included) comes from the 0600 file named by DIBS_VPN_NETNS_CONFIG, which it
 * deletes once read. The `relay` role also runs anvil on the relay address (RELAY_IP).
 */
import { readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { AnvilSupervisor } from '@dibs/chain';
import { Wallet } from '@dibs/core';
import { AccessClient } from '../../src/access/access-client.ts';
import { type Daemon, startDaemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/daemon/log.ts';
import type { VpnNodeConfig } from './vpn-bed.ts';
import { CHAIN_ID, RELAY_IP } from './vpn-bed.ts';

type Command =
  | { id: number; op: 'vpnUp'; serviceId: string; mode: 'client' | 'site' }
  | { id: number; op: 'vpnDown'; serviceId?: string }
  | { id: number; op: 'vpnStatus' }
  | { id: number; op: 'revoke'; serviceId: string }
  | { id: number; op: 'hangup'; peerId: string };

async function runNode(configPath: string): Promise<void> {
  const cfg = JSON.parse(await readFile(configPath, 'utf8')) as VpnNodeConfig;
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
          case 'hangup': {
            // Drop every connection to the peer, so the next tunnel finds a path afresh.
            const peer = net.host.libp2p
              .getConnections()
              .filter((c) => c.remotePeer.toString() === cmd.peerId);
            for (const c of peer) c.abort(new Error('closed by the bed'));
            return { closed: peer.length };
          }
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

const configPath = process.env.DIBS_VPN_NETNS_CONFIG;
if (!configPath) throw new Error('DIBS_VPN_NETNS_CONFIG must name the node config file');
await runNode(configPath);
