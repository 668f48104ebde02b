/** Which IPs a node is reachable on, for the data-channel and rendezvous offers, and how to read a peer's. */
import { isIPv4 } from 'node:net';
import type { DibsHost } from '../p2p/host.ts';

/** The IPs of the host's own TCP listen addresses (no relay circuits, no WebSockets), in order. */
export function tcpHosts(host: DibsHost): string[] {
  const hosts: string[] = [];
  for (const ma of host.multiaddrs()) {
    const s = ma.toString();
    if (s.includes('/p2p-circuit') || s.includes('/ws')) continue;
    const m = /^\/ip([46])\/([^/]+)\/tcp\/\d+/.exec(s);
    if (m && !hosts.includes(m[2]!)) hosts.push(m[2]!);
  }
  return hosts;
}

/**
 * Interface to bind beside those listeners: loopback when the node only listens there, else all —
 * IPv6 and IPv4 (dual stack) when it listens on an IPv6 address too, so a client reaches the data
 * channel at the address it reaches the node at.
 */
export function defaultBindHost(host: DibsHost): string {
  const hosts = tcpHosts(host);
  if (hosts.length > 0 && hosts.every((h) => h === '127.0.0.1')) return '127.0.0.1';
  if (hosts.length > 0 && hosts.every((h) => h === '::1')) return '::1';
  return hosts.some((h) => h.includes(':')) ? '::' : '0.0.0.0';
}

/** True for an unspecified (all-interfaces) bind address. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** The relay a connection runs through (`…/p2p/<relay>/p2p-circuit/…`), or undefined when direct. */
export function relayOf(remoteAddr: string): { peerId: string; ip: string | undefined } | undefined {
  const m = /\/p2p\/([^/]+)\/p2p-circuit/.exec(remoteAddr);
  if (!m) return undefined;
  const ip = /^\/ip[46]\/([^/]+)\/tcp\//.exec(remoteAddr)?.[1];
  return { peerId: m[1]!, ip };
}

/** Strips the IPv4-mapped prefix a dual-stack socket reports (`::ffff:10.0.0.1`). */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}
