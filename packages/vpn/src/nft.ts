/**
 * nftables rules, one table per WireGuard interface (`dibs_vpn_<interface>`), replaced atomically in
 * one `nft -f` transaction on every change. A host allows each peer exactly the service's destination
 * rules from exactly its own address; a client accepts nothing new from the tunnel; a site client also
 * masquerades its LAN into the tunnel.
 */
import { NFT_TABLE_PREFIX } from './constants.ts';
import { runCommand } from './exec.ts';

/** One allowed destination: a CIDR and optional inclusive port ranges (none = every protocol and port). */
export interface DestinationRule {
  cidr: string;
  ports?: [number, number][];
}

/** A host peer's address and what it may reach. */
export interface PeerRules {
  address: string;
  allow: readonly DestinationRule[];
}

/** The table name of interface `iface`. */
export function tableName(iface: string): string {
  return `${NFT_TABLE_PREFIX}${iface.replace(/-/g, '_')}`;
}

function q(iface: string): string {
  return `"${iface}"`;
}

/** Input from the tunnel: replies and pings only (nobody in the VPN reaches the node's own ports). */
function inputChain(iface: string): string[] {
  return [
    '  chain input {',
    '    type filter hook input priority -10; policy accept;',
    `    iifname ${q(iface)} ct state established,related accept`,
    `    iifname ${q(iface)} icmp type echo-request accept`,
    `    iifname ${q(iface)} drop`,
    '  }',
  ];
}

function wrap(table: string, body: string[]): string {
  // Declare, delete, recreate: one transaction, whether or not the table existed.
  return [
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table inet ${table} {`,
    ...body,
    '}',
    '',
  ].join('\n');
}

function portSet(ports: [number, number][]): string {
  return `{ ${ports.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ')} }`;
}

/** The host's table: per-peer forwarding rules into the site, nothing else from the tunnel. */
export function hostRuleset(iface: string, peers: readonly PeerRules[]): string {
  const forward = [
    '  chain forward {',
    '    type filter hook forward priority -10; policy accept;',
    `    iifname ${q(iface)} ct state established,related accept`,
  ];
  for (const peer of peers) {
    for (const rule of peer.allow) {
      const match = `iifname ${q(iface)} ip saddr ${peer.address} ip daddr ${rule.cidr}`;
      if (!rule.ports || rule.ports.length === 0) forward.push(`    ${match} accept`);
      else forward.push(`    ${match} meta l4proto { tcp, udp } th dport ${portSet(rule.ports)} accept`);
    }
  }
  forward.push(`    iifname ${q(iface)} drop`, '  }');
  return wrap(tableName(iface), [...forward, ...inputChain(iface)]);
}

/** A client's table; `site` adds forwarding of the local LAN into the tunnel behind the session address. */
export function clientRuleset(iface: string, site: boolean): string {
  const body = [
    '  chain forward {',
    '    type filter hook forward priority -10; policy accept;',
    `    iifname ${q(iface)} ct state established,related accept`,
    `    iifname ${q(iface)} drop`,
    '  }',
    ...inputChain(iface),
  ];
  if (site) {
    body.push(
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      `    oifname ${q(iface)} masquerade`,
      '  }',
    );
  }
  return wrap(tableName(iface), body);
}

/** Applies a ruleset (one atomic transaction). */
export async function applyRuleset(ruleset: string): Promise<void> {
  await runCommand('nft', ['-f', '-'], { input: ruleset });
}

/** Deletes a table; absent is fine. */
export async function deleteTable(table: string): Promise<void> {
  await runCommand('nft', ['delete', 'table', 'inet', table]).catch(() => {});
}

/** Names of the inet tables that start with `prefix`. */
export async function listTables(prefix: string): Promise<string[]> {
  const { stdout } = await runCommand('nft', ['list', 'tables']);
  return stdout
    .split('\n')
    .map((l) => /^table inet (\S+)$/.exec(l.trim())?.[1])
    .filter((t): t is string => t?.startsWith(prefix) === true);
}
