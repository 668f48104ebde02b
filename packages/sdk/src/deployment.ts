/** Reading a DIBS deployment as `dibs chain status --json` prints it, for SDK users outside a node. */
import type { Deployment } from '@dibs/chain';
import { SdkError } from './errors.ts';

/** What `dibs chain status --json` prints (the parts the SDK needs). */
export interface ChainStatusJson {
  rpcUrl: string;
  chainId: number;
  contracts: {
    token: string;
    registry: string;
    services: string;
    accessGrants: string;
    organizations: string;
  };
  networkServiceId: string | number;
  deployedAtBlock: string | number;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** The deployment and RPC URL described by `dibs chain status --json` output. */
export function deploymentFromStatus(json: unknown): { rpcUrl: string; deployment: Deployment } {
  const s = json as Partial<ChainStatusJson>;
  const c = s?.contracts;
  const ok =
    typeof s?.rpcUrl === 'string' &&
    Number.isSafeInteger(s.chainId) &&
    c !== undefined &&
    [c.token, c.registry, c.services, c.accessGrants, c.organizations].every(
      (a) => typeof a === 'string' && ADDRESS.test(a),
    ) &&
    /^\d+$/.test(String(s.networkServiceId)) &&
    /^\d+$/.test(String(s.deployedAtBlock));
  if (!ok || !c) {
    throw new SdkError(
      'BAD_CONFIG',
      'this is not the output of `dibs chain status --json`',
      'save that command’s output and pass it',
      {
        status: 400,
      },
    );
  }
  return {
    rpcUrl: s.rpcUrl as string,
    deployment: {
      token: c.token as `0x${string}`,
      registry: c.registry as `0x${string}`,
      services: c.services as `0x${string}`,
      accessGrants: c.accessGrants as `0x${string}`,
      organizations: c.organizations as `0x${string}`,
      chainId: s.chainId as number,
      deployedAtBlock: BigInt(String(s.deployedAtBlock)),
      deployedAtBlockHash: undefined,
      networkServiceId: BigInt(String(s.networkServiceId)),
      source: 'configured',
    },
  };
}
