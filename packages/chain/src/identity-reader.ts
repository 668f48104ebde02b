import type { IdentityReader } from '@dibs/core';
import { getAddress } from 'viem';
import type { RegistryReader } from './registry-reader.ts';

/** The Registry as the DID resolver's source of identities (`resolveDid(did, registryIdentityReader(r))`). */
export function registryIdentityReader(registry: RegistryReader): IdentityReader {
  return {
    chainId: registry.clients.chainId,
    async getIdentity(address: string) {
      const identity = await registry.getIdentity(getAddress(address));
      if (!identity) return null;
      return { encryptionKey: identity.encryptionKey, registeredAt: Number(identity.registeredAt) };
    },
  };
}
