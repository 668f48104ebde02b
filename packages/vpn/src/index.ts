/** @dibs/vpn: the L3 VPN — WireGuard (wireguard-go) keyed by DIBS tickets, routes and rules via ip/nftables. */
export { DatagramBridge, FrameReader, frameDatagram } from './bridge.ts';
export { type EndedVpnSession, type OpenVpnTunnel, VpnClients, type VpnTunnel } from './client.ts';
export * from './constants.ts';
export { type DeviceOptions, type PeerConfig, WireGuardDevice } from './device.ts';
export { L4_HINT, VpnError, type VpnErrorCode } from './errors.ts';
export { runCommand } from './exec.ts';
export { type HostedVpn, type HostSession, VpnHost, type VpnLogger } from './host.ts';
export { cidrsOverlap, formatCidr4, parseCidr4, parseIpv4 } from './ipv4.ts';
export { generateWireGuardKeyPair, keyBase64, keyHex, type WireGuardKeyPair } from './keys.ts';
export {
  decodeVpnMessage,
  encodeVpnMessage,
  type VpnGrant,
  type VpnMessage,
  VpnMessageType,
  type VpnMode,
  type VpnRequest,
} from './messages.ts';
export {
  applyRuleset,
  clientRuleset,
  type DestinationRule,
  hostRuleset,
  listTables,
  tableName,
} from './nft.ts';
export { AddressPool, defaultPool, parsePool } from './pool.ts';
export { VpnRuntime, type VpnRuntimeOptions } from './runtime.ts';
export type { VpnPath, VpnSessionInfo } from './session.ts';
export { checkVpnSupport, interfacePrefix, listInterfaces, nodeTag, removeLeftovers } from './system.ts';
export { parseUapiGet, type UapiDevice, type UapiPeer, uapiGet, uapiPath, uapiSet } from './uapi.ts';
