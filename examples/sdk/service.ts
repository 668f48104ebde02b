/**
 * Example: a DIBS service without a separate node process. An Express API that accepts requests
 * carrying a DIBS ticket (`Authorization: DIBS …`) and, in the same process, an embedded DIBS node
 * that publishes it on chain and accepts DIBS tunnels to it.
 *
 *   DIBS_CHAIN=chain.json DIBS_KEYSTORE=service-keystore.json DIBS_PASSPHRASE_FILE=pass \
 *     node examples/sdk/service.ts
 */
import type { AddressInfo } from 'node:net';
import {
  DibsAuth,
  type DibsRequest,
  dibsExpress,
  serveOverDibs,
  startChainView,
  startEmbeddedNode,
  TicketGate,
} from '@dibs/sdk/server';
import express from 'express';
import { exampleEnv } from './env.ts';

const { rpcUrl, deployment, wallet } = await exampleEnv();
const view = await startChainView({ rpcUrl, deployment });
const auth = new DibsAuth({
  tickets: new TicketGate({ wallet, chainId: deployment.chainId, contract: deployment.accessGrants, view }),
});

const app = express();
app.get('/hello', (_req, res) => {
  res.json({ hello: 'reached through a DIBS tunnel' });
});
app.get('/api/whoami', dibsExpress(auth), (req, res) => {
  const id = (req as unknown as DibsRequest).dibs!;
  res.json({ address: id.address, grant: String(id.grantId), expires: new Date(id.expiresAt).toISOString() });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const port = (server.address() as AddressInfo).port;

const node = await startEmbeddedNode({ wallet, rpcUrl, deployment });
const service = await serveOverDibs(node, {
  name: 'sdk-example',
  type: 'http',
  target: `127.0.0.1:${port}`,
  policy: 'public',
});
console.log(
  `API on http://127.0.0.1:${port}; DIBS service ${service.id} (${service.name}) served by ${wallet.address}`,
);

const stop = async () => {
  server.close();
  await node.stop();
  await view.stop();
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
