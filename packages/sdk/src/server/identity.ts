/** Who a request comes from, as the server SDK established it (from an ID token or a ticket). */
export interface DibsIdentity {
  /** `eip155:<chainId>:<address>`. */
  sub: string;
  /** EIP-55 checksummed address. */
  address: string;
  chainId: number;
  /** `did:pkh:eip155:<chainId>:<address>`. */
  did: string;
  /** The grant on chain behind this request. */
  grantId: bigint | undefined;
  /** The service the grant is for (ticket requests), when known. */
  serviceId: bigint | undefined;
  /** Organization names (from ID tokens with the `groups` scope). */
  groups: string[];
  /** When the credential stops being accepted, Unix ms. */
  expiresAt: number;
  /** How the request proved it. */
  via: 'id_token' | 'ticket';
  /** The verified ID token claims (ID tokens only). */
  claims?: Record<string, unknown>;
}

/** The grant state the server SDK consults: a GrantCache fed by chain events satisfies it. */
export interface GrantView {
  grant(grantId: bigint): { revoked: boolean; expiresAt: bigint } | undefined;
}
