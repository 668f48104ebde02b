/** The node's own network grant on a real chain: requested once, reused, renewed only near its end. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Policy } from '@dibs/contracts';
import { GrantCache, NETWORK_SERVICE_TYPE } from '@dibs/core';
import { createLogger } from '../src/daemon/log.ts';
import { networkGrantProvider } from '../src/daemon/network-grant.ts';
import { TestChain } from './netns/chain-party.ts';

describe('network grant provider', () => {
  const chain = new TestChain();
  before(() => chain.start());
  after(() => chain.stop());

  /** Counts the grant requests that reach the chain. */
  function counted<T extends { requestAccess(id: bigint): Promise<unknown> }>(registry: T) {
    const calls = { n: 0 };
    return {
      calls,
      registry: {
        requestAccess: (id: bigint) => {
          calls.n++;
          return registry.requestAccess(id);
        },
      } as T,
    };
  }

  it('a network whose grants last less than the renewal margin does not re-request on every ticket', async () => {
    const operator = await chain.party('short-operator');
    // An operator's network with one-hour grants: far below the 24 h renewal margin.
    const shortNetwork = await operator.registry.publishService({
      serviceType: NETWORK_SERVICE_TYPE,
      name: 'short-grant network',
      grantDuration: 3600n,
      policy: Policy.Public,
    });
    const member = await chain.party('member');
    const { calls, registry } = counted(member.registry);
    const grant = networkGrantProvider({
      store: member.store,
      registry,
      networkServiceId: shortNetwork,
      cache: new GrantCache(),
      log: createLogger({ console: null }),
    });
    const first = await grant();
    const again = await grant();
    const third = await grant();
    assert.equal(calls.n, 1, 'one chain request for three tickets');
    assert.equal(again.grantId, first.grantId);
    assert.equal(third.grantId, first.grantId);
    const onChain = await member.registry.getGrant(first.grantId);
    assert.equal(onChain?.serviceId, shortNetwork);
  });

  it('a grant in the last third of its life is replaced by a new one on chain', async () => {
    const operator = await chain.party('tiny-operator');
    const tinyNetwork = await operator.registry.publishService({
      serviceType: NETWORK_SERVICE_TYPE,
      name: 'tiny-grant network',
      grantDuration: 6n,
      policy: Policy.Public,
    });
    const member = await chain.party('renewer');
    const { calls, registry } = counted(member.registry);
    const grant = networkGrantProvider({
      store: member.store,
      registry,
      networkServiceId: tinyNetwork,
      cache: new GrantCache(),
      log: createLogger({ console: null }),
    });
    const first = await grant();
    assert.equal((await grant()).grantId, first.grantId, 'still fresh: reused');
    // Wait (bounded) until less than a third of its six seconds is left.
    const dueAt = Number(first.expiresAt) * 1000 - 1_000;
    for (let i = 0; i < 200 && Date.now() < dueAt; i++) await new Promise((r) => setTimeout(r, 50));
    const renewed = await grant();
    assert.equal(calls.n, 2);
    assert.notEqual(renewed.grantId, first.grantId);
    assert.ok(renewed.expiresAt > first.expiresAt);
  });
});
