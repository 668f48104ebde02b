/**
 * Example: a Node client of a DIBS service. It requests access (a grant on chain), fetches from the
 * service through the DIBS network, and calls its API directly with a ticket in the Authorization
 * header.
 *
 *   DIBS_CHAIN=chain.json DIBS_KEYSTORE=client-keystore.json DIBS_PASSPHRASE_FILE=pass \
 *     node examples/sdk/client.ts <service-id> [api-url]
 */
import { DibsClient } from '@dibs/sdk';
import { exampleEnv } from './env.ts';

const [serviceText, apiUrl] = process.argv.slice(2);
if (!serviceText || !/^\d+$/.test(serviceText)) {
  console.error('usage: node examples/sdk/client.ts <service-id> [api-url]');
  process.exit(2);
}
const serviceId = BigInt(serviceText);
const { rpcUrl, deployment, wallet } = await exampleEnv();
const client = await DibsClient.start({ wallet, rpcUrl, deployment });
try {
  const grant = await client.grant(serviceId);
  console.log(
    `grant ${grant.grantId} on service ${serviceId}, expires ${new Date(Number(grant.expiresAt) * 1000).toISOString()}`,
  );
  const res = await client.fetch(serviceId, '/hello');
  console.log(`through the DIBS network: ${res.status} ${await res.text()}`);
  if (apiUrl) {
    const api = await fetch(new URL('/api/whoami', apiUrl), {
      headers: { authorization: await client.authorization(serviceId) },
    });
    console.log(`API with a DIBS ticket: ${api.status} ${await api.text()}`);
  }
} finally {
  await client.stop();
}
