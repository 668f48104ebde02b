import { registryIdentityReader } from '@dibs/chain';
import { encryptionKeyFromWallet, formatDid, resolveDid } from '@dibs/core';
import { Command } from 'commander';
import { commandContext, connectChain, readIdentityFile, unlockWallet } from '../context.ts';
import { table } from '../output.ts';

export function idCommands(): Command {
  const id = new Command('id').description('the wallet identity: show it, register it on chain');
  id.command('show')
    .description('print address, DID, PeerId and encryption key (no passphrase needed)')
    .option(
      '--check',
      'also ask the chain whether the identity is registered (needs a running node or --rpc-url)',
    )
    .action(async (opts: { check?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      const identity = readIdentityFile(ctx);
      let registered: boolean | undefined;
      if (opts.check) {
        const chain = await connectChain(ctx);
        try {
          registered = (await chain.registry.getIdentity(identity.address as `0x${string}`)) !== null;
        } finally {
          chain.close();
        }
      }
      const result = {
        address: identity.address,
        did: formatDid(identity.address, ctx.config.chain.chainId),
        peerId: identity.peerId,
        publicKey: identity.publicKey,
        encryptionKey: identity.encryptionKey,
        ...(registered !== undefined ? { registered } : {}),
        keystore: ctx.paths.keystore,
      };
      ctx.out.result(result, () => table(Object.entries(result)));
    });
  id.command('register')
    .description('register the identity and its encryption key in the Registry (updates a changed key)')
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const wallet = await unlockWallet(ctx);
      const chain = await connectChain(ctx, wallet);
      try {
        const key = encryptionKeyFromWallet(wallet).publicKey;
        const current = await chain.registry.getIdentity(wallet.address);
        let action: 'registered' | 'updated' | 'unchanged' = 'unchanged';
        let tx: string | undefined;
        if (current === null) {
          ctx.out.progress('sending registerIdentity…');
          tx = (await chain.registry.registerIdentity(key)).transactionHash;
          action = 'registered';
        } else if (Buffer.compare(Buffer.from(current.encryptionKey), Buffer.from(key)) !== 0) {
          ctx.out.progress('sending updateEncryptionKey…');
          tx = (await chain.registry.updateEncryptionKey(key)).transactionHash;
          action = 'updated';
        }
        const result = {
          address: wallet.address,
          action,
          registry: chain.deployment.registry,
          ...(tx ? { transaction: tx } : {}),
        };
        ctx.out.result(result, () => table(Object.entries(result)));
      } finally {
        chain.close();
      }
    });
  id.command('resolve')
    .description("resolve a did:pkh DID to its DID document from the Registry (this node's own when omitted)")
    .argument('[did]', 'did:pkh:eip155:<chainId>:<address>')
    .action(async (didArg: string | undefined, _opts: unknown, cmd: Command) => {
      const ctx = commandContext(cmd);
      const did = didArg ?? formatDid(readIdentityFile(ctx).address, ctx.config.chain.chainId);
      const chain = await connectChain(ctx);
      try {
        const document = await resolveDid(did, registryIdentityReader(chain.registry));
        ctx.out.result(document, () => JSON.stringify(document, null, 2));
      } finally {
        chain.close();
      }
    });
  return id;
}
