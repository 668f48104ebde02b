/** The organization routes over the organization library, signed by this node's wallet. */
import type { OrganizationView } from '@dibs/chain';
import { OrgError, OrgOperations, type OrgService, parseAddress, parseAmount, parseOrgId } from '@dibs/orgs';
import { ApiError } from '../api/errors.ts';
import type { OrgApiHandlers, OrgServiceOut, OrgSummaryOut } from '../api/orgs-api.ts';
import { mapErrors } from './api-errors.ts';
import type { ChainRuntime } from './chain-runtime.ts';

/** HTTP status of each kind of organization failure. */
const STATUS: Record<OrgError['kind'], number> = {
  invalid: 400,
  'not-found': 404,
  forbidden: 403,
  conflict: 409,
};

/** Runs `fn`; an OrgError keeps its code and says its hint, anything else maps as on every route. */
async function orgErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OrgError) {
      throw new ApiError(STATUS[err.kind], err.code, `${err.message}; ${err.hint}`, { cause: err });
    }
    return mapErrors(() => {
      throw err;
    });
  }
}

function summaryOut(o: OrganizationView & { role?: OrgSummaryOut['role'] | undefined }): OrgSummaryOut {
  return {
    id: o.id.toString(),
    name: o.name.slice(0, 64),
    networkLabel: o.networkLabel.slice(0, 32),
    admin: o.admin,
    token: o.token,
    networkServiceId: o.networkServiceId.toString(),
    role: o.role ?? null,
  };
}

function serviceOut(s: OrgService): OrgServiceOut {
  return {
    id: s.id.toString(),
    name: s.name.slice(0, 128),
    type: s.type.slice(0, 32),
    owner: s.owner,
    host: s.host,
    price: s.price.toString(),
    paymentToken: s.paymentToken,
    audience: s.audience,
    active: s.active,
  };
}

/** Implements the organization routes for the daemon's wallet; `changed` tells UI clients to reload. */
export function createOrgHandlers(
  chain: Pick<ChainRuntime, 'clients' | 'deployment'>,
  changed: () => void = () => {},
): OrgApiHandlers {
  const orgs = new OrgOperations({ clients: chain.clients, deployment: chain.deployment });
  const write = async <T>(fn: () => Promise<T>): Promise<T> => {
    const out = await orgErrors(fn);
    changed();
    return out;
  };
  return {
    list: (mine) => orgErrors(async () => (mine ? await orgs.mine() : await orgs.list()).map(summaryOut)),

    show: (id) =>
      orgErrors(async () => {
        const d = await orgs.show(parseOrgId(id));
        return {
          ...summaryOut(d),
          members: d.members,
          nodes: d.nodes,
          tokenInfo: {
            address: d.tokenInfo.address,
            symbol: d.tokenInfo.symbol,
            decimals: Math.min(255, d.tokenInfo.decimals),
            totalSupply: d.tokenInfo.totalSupply.toString(),
            balance: d.tokenInfo.balance.toString(),
          },
          networkService: d.networkService ? serviceOut(d.networkService) : null,
          env: d.env,
        };
      }),

    create: (input) =>
      write(async () => {
        const token =
          input.token === undefined || input.token === 'new' ? undefined : parseAddress(input.token, 'token');
        const created = await orgs.create({
          name: input.name,
          ...(input.networkLabel !== undefined ? { networkLabel: input.networkLabel } : {}),
          ...(token ? { token } : {}),
          networkPrice: input.networkPrice === undefined ? 0n : parseAmount(input.networkPrice),
        });
        return summaryOut({ ...created, role: 'admin' });
      }),

    setMembership: (id, role, text, present) =>
      write(async () => {
        const orgId = parseOrgId(id);
        const address = parseAddress(text, role);
        await orgs.require(orgId);
        if (role === 'member') {
          await (present ? orgs.addMember(orgId, address) : orgs.removeMember(orgId, address));
        } else {
          await (present ? orgs.addNode(orgId, address) : orgs.removeNode(orgId, address));
        }
        return { orgId: id, address, role, present };
      }),

    mint: (id, toText, amountText) =>
      write(async () => {
        const to = parseAddress(toText, 'recipient');
        const amount = parseAmount(amountText);
        const balance = await orgs.mint(parseOrgId(id), to, amount);
        return { orgId: id, to, amount: amount.toString(), balance: balance.toString(), account: to };
      }),

    transfer: (id, toText, amountText) =>
      write(async () => {
        const to = parseAddress(toText, 'recipient');
        const amount = parseAmount(amountText);
        const balance = await orgs.transfer(parseOrgId(id), to, amount);
        const account = orgs.self;
        return {
          orgId: id,
          to,
          amount: amount.toString(),
          balance: balance.toString(),
          ...(account ? { account } : {}),
        };
      }),

    env: (id) => orgErrors(() => orgs.env(parseOrgId(id))),

    getEnv: (id, key) =>
      orgErrors(async () => ({ orgId: id, key, value: await orgs.getEnv(parseOrgId(id), key) })),

    setEnv: (id, key, value) =>
      write(async () => {
        await orgs.setEnv(parseOrgId(id), key, value);
        return { orgId: id, key, value };
      }),

    services: (id) => orgErrors(async () => (await orgs.services(parseOrgId(id))).map(serviceOut)),

    grants: (id) =>
      orgErrors(async () =>
        (await orgs.grants(parseOrgId(id))).map((g) => ({
          id: g.id.toString(),
          serviceId: g.serviceId.toString(),
          serviceName: g.serviceName.slice(0, 128),
          grantee: g.grantee,
          issuedAt: Number(g.issuedAt),
          expiresAt: Number(g.expiresAt),
          revoked: g.revoked,
        })),
      ),
  };
}
