/**
 * The UI's client types and the node's route schemas describe the same JSON: checked at compile
 * time (the type check fails on drift) and at run time against the generated OpenAPI document.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as node from '../../node/src/api/index.ts';
import type * as ui from '../src/api.ts';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const typesAgree: [
  Same<ui.Identity, node.Identity>,
  Same<ui.ChainStatus, node.ChainStatus>,
  Same<ui.Peer, node.Peer>,
  Same<ui.Service, node.Service>,
  Same<ui.PublishService, node.PublishService>,
  Same<ui.Grant, node.Grant>,
  Same<ui.Session, node.Session>,
  Same<ui.Connection, node.Connection>,
  Same<ui.LogEntry, node.LogEntry>,
  Same<ui.Balance, node.Balance>,
  Same<ui.SocksProxy, node.SocksProxy>,
  Same<ui.StartProxy, node.StartProxy>,
  Same<ui.ApiEvents['counters'], node.Infer<node.DibsEvents['counters']>>,
  Same<ui.ApiEvents['changed'], node.Infer<node.DibsEvents['changed']>>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true];

describe('UI client and node API contract', () => {
  it('has identical types on both sides', () => {
    assert.ok(typesAgree.every(Boolean));
  });

  it('every route the UI calls is declared, with its method, in the generated OpenAPI', () => {
    const api = node.createApiServer({ token: node.generateApiToken(), log: node.silentApiLogger });
    const noop = () => {
      throw new node.ApiError(501, 'NOT_IMPLEMENTED', 'not used');
    };
    node.registerDibsApi(api, {
      identity: noop,
      chain: noop,
      balance: noop,
      peers: noop,
      services: noop,
      publishService: noop,
      retireService: noop,
      grants: noop,
      requestGrant: noop,
      revokeGrant: noop,
      sessions: noop,
      connectListeners: noop,
      connect: noop,
      disconnect: noop,
      proxies: noop,
      startProxy: noop,
      stopProxy: noop,
      logs: noop,
    });
    const doc = api.openapi() as { paths: Record<string, Record<string, unknown>> };
    const used: [string, string][] = [
      ['get', '/api/v1/identity'],
      ['get', '/api/v1/chain'],
      ['get', '/api/v1/peers'],
      ['get', '/api/v1/services'],
      ['post', '/api/v1/services'],
      ['delete', '/api/v1/services/{id}'],
      ['get', '/api/v1/grants'],
      ['post', '/api/v1/grants'],
      ['delete', '/api/v1/grants/{id}'],
      ['get', '/api/v1/sessions'],
      ['post', '/api/v1/connections'],
      ['delete', '/api/v1/connections/{id}'],
      ['get', '/api/v1/logs'],
      ['get', '/api/v1/balance'],
      ['get', '/api/v1/proxies'],
      ['post', '/api/v1/proxies'],
      ['delete', '/api/v1/proxies/{id}'],
      ['get', '/api/v1/events'],
    ];
    for (const [method, path] of used)
      assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  });
});
