/** SOCKS5 (RFC 1928) protocol numbers and the proxy's limits. */

/** Protocol version byte of every SOCKS5 message. */
export const SOCKS_VERSION = 0x05;
/** Authentication method: none (the only one offered; the proxy listens on loopback). */
export const METHOD_NO_AUTH = 0x00;
/** Method reply when the client offers nothing acceptable. */
export const METHOD_NONE_ACCEPTABLE = 0xff;

/** Request commands. */
export const CMD_CONNECT = 0x01;

/** Address types. */
export const ATYP_IPV4 = 0x01;
export const ATYP_DOMAIN = 0x03;
export const ATYP_IPV6 = 0x04;

/** Reply codes (RFC 1928 §6). */
export const REPLY_SUCCEEDED = 0x00;
export const REPLY_GENERAL_FAILURE = 0x01;
export const REPLY_NOT_ALLOWED = 0x02;
export const REPLY_NETWORK_UNREACHABLE = 0x03;
export const REPLY_HOST_UNREACHABLE = 0x04;
export const REPLY_CONNECTION_REFUSED = 0x05;
export const REPLY_TTL_EXPIRED = 0x06;
export const REPLY_COMMAND_NOT_SUPPORTED = 0x07;
export const REPLY_ADDRESS_TYPE_NOT_SUPPORTED = 0x08;

/** Longest greeting: version, count, 255 methods. */
export const MAX_GREETING_BYTES = 2 + 255;
/** Longest request: version, command, reserved, type, length + 255-byte name, port. */
export const MAX_REQUEST_BYTES = 4 + 1 + 255 + 2;
/** Time a client has to finish greeting and request before it is dropped. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Time allowed to open the outbound side of a CONNECT. */
export const CONNECT_TIMEOUT_MS = 30_000;
/** Most client connections one proxy serves at once; more are refused at accept. */
export const MAX_PROXY_CLIENTS = 512;
