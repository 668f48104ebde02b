/** The tunnel data plane: `/dibs/tunnel/1.0` server and client, data channel, session accounting. */
export {
  busyPolling,
  busyPollScore,
  busyPollSuspended,
  busyPollWindow,
  currentBusyPollWindow,
  type ReadSource,
  readSource,
  setBusyPollWindow,
} from './busy-poll.ts';
export { openTunnel, type OpenTunnelOptions, type Tunnel } from './client.ts';
export * from './constants.ts';
export {
  chooseDestination,
  compileRules,
  type DestinationRule,
  type HostedService,
  isAllowed,
  resolveHost,
  TARGET_SERVICE_TYPES,
  VPN_SERVICE_TYPE,
} from './destination.ts';
export { TunnelError, type TunnelErrorCode } from './errors.ts';
export {
  type DataOffer,
  type Destination,
  type PairMessage,
  type PairRequestMessage,
  decodeTunnelMessage,
  encodeTunnelMessage,
  type TunnelMessage,
  TunnelMessageType,
} from './messages.ts';
export {
  type DataKeyInput,
  type DataKeys,
  deriveDataKeys,
  type OpenedRecord,
  RecordOpener,
  RecordSealer,
} from './record.ts';
export { releasable, releasedBytes, setReleaseAfterWrite, writeOwned } from './release.ts';
export { TunnelRelay, type TunnelRelayOptions } from './relay.ts';
export { SecureChannel, type SecureChannelOptions } from './secure-channel.ts';
export {
  type AcceptedVpn,
  type DataChannelOptions,
  type TunnelRefusal,
  TunnelServer,
  type TunnelServerOptions,
  type VpnAcceptor,
} from './server.ts';
export {
  clientTunnels,
  type TunnelChannel,
  type TunnelPath,
  type TunnelSessionEntry,
  type TunnelSessionInfo,
  TunnelSessionTable,
} from './sessions.ts';
export { StreamChannel } from './stream-channel.ts';
