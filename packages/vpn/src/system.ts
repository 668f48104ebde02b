/**
 * What the host must offer for the L3 VPN (root or CAP_NET_ADMIN, /dev/net/tun, wireguard-go, ip, nft)
 * and the cleanup of a previous run's leftovers: interfaces and nft tables named with this node's tag.
 */
import { constants } from 'node:fs';
import { access, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INTERFACE_PREFIX, NFT_TABLE_PREFIX, NODE_TAG_CHARS, UAPI_DIR } from './constants.ts';
import { L4_HINT, VpnError } from './errors.ts';
import { runCommand } from './exec.ts';
import { deleteTable, listTables, tableName } from './nft.ts';

/** The node's tag in interface and table names (hex characters of its address). */
export function nodeTag(address: string): string {
  return address.toLowerCase().replace(/^0x/, '').slice(0, NODE_TAG_CHARS);
}

/** Interface name prefix of the node with `tag`. */
export function interfacePrefix(tag: string): string {
  return `${INTERFACE_PREFIX}${tag}`;
}

async function onPath(binary: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (
      await access(`${dir}/${binary}`, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

/** Throws UNSUPPORTED (with a hint to the L4 proxy) when this host cannot run the L3 VPN. */
export async function checkVpnSupport(binary = 'wireguard-go'): Promise<void> {
  if (process.platform !== 'linux') {
    throw new VpnError('UNSUPPORTED', `the L3 VPN runs on Linux; this is ${process.platform}`, L4_HINT);
  }
  if (process.getuid?.() !== 0) {
    throw new VpnError(
      'UNSUPPORTED',
      'the L3 VPN needs root (it creates a TUN interface, routes and nftables rules); this node runs unprivileged',
      `run the node as root, or ${L4_HINT}`,
    );
  }
  if (
    !(await access('/dev/net/tun', constants.R_OK | constants.W_OK).then(
      () => true,
      () => false,
    ))
  ) {
    throw new VpnError('UNSUPPORTED', 'this host has no /dev/net/tun (TUN devices)', L4_HINT);
  }
  for (const b of [binary, 'ip', 'nft']) {
    if (!(await onPath(b))) {
      throw new VpnError(
        'UNSUPPORTED',
        `${b} is not installed`,
        `install it (Debian: apt-get install wireguard-go iproute2 nftables), or ${L4_HINT}`,
      );
    }
  }
}

/** Interfaces whose name starts with `prefix`. */
export async function listInterfaces(prefix: string): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['-o', 'link', 'show']);
  return stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => n?.startsWith(prefix) === true);
}

/**
 * Removes every interface and nft table of node `tag` (a previous run that was SIGKILLed): deleting
 * the interface ends its wireguard-go and drops its routes. Returns what was removed.
 */
export async function removeLeftovers(tag: string): Promise<string[]> {
  const prefix = interfacePrefix(tag);
  const removed: string[] = [];
  for (const iface of await listInterfaces(prefix)) {
    await runCommand('ip', ['link', 'del', 'dev', iface]).catch(() => {});
    removed.push(iface);
  }
  // Killed with the node, wireguard-go could not remove its UAPI socket.
  for (const file of await readdir(UAPI_DIR).catch(() => [] as string[])) {
    if (file.startsWith(prefix) && file.endsWith('.sock')) await unlink(join(UAPI_DIR, file)).catch(() => {});
  }
  for (const table of await listTables(tableName(prefix))) {
    await deleteTable(table);
    removed.push(`nft:${table}`);
  }
  return removed;
}

/** Turns on IPv4 forwarding (a host forwarding into its site, a site client forwarding its LAN). */
export async function enableForwarding(): Promise<void> {
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1\n');
}

export { NFT_TABLE_PREFIX };
