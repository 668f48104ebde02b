/**
 * Names instead of raw ids: node labels (from the fleet view, set by the operator) for addresses,
 * and a short form for the long decimal ids of grants and services.
 */
import { shortHex, shortPeer } from './format.ts';
import { useApp, useResource } from './store.ts';

/** `#12345678…901` for ids longer than 12 digits (grant ids carry their service id in the high bits). */
export function shortId(id: string): string {
  return id.length <= 12 ? `#${id}` : `#${id.slice(0, 6)}…${id.slice(-4)}`;
}

/** Address → the name to show: the operator's label, "this node", or the short address. */
export interface Names {
  of(address: string | null | undefined): string;
  /** The label alone, when the node has one. */
  label(address: string | null | undefined): string | undefined;
  /** PeerId → the node's label, or the short PeerId. */
  ofPeer(peerId: string): string;
}

/** Labels of the fleet's nodes, reloaded when the node announces a change of the fleet. */
export function useNames(): Names {
  const { client } = useApp();
  const fleet = useResource('fleet', client.fleet, 60_000);
  const labels = new Map<string, string>();
  const peers = new Map<string, string>();
  for (const n of fleet.data ?? []) {
    const name = n.label ?? (n.self ? 'this node' : undefined);
    if (!name) continue;
    labels.set(n.address.toLowerCase(), name);
    if (n.peerId) peers.set(n.peerId, name);
  }
  const label = (a: string | null | undefined) => (a ? labels.get(a.toLowerCase()) : undefined);
  return {
    label,
    of: (a) => (a ? (label(a) ?? shortHex(a)) : '—'),
    ofPeer: (p) => peers.get(p) ?? shortPeer(p),
  };
}
