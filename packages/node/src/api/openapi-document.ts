/** The v1 API's OpenAPI document without a running node: the routes declared over handlers that never run. */
import { generateApiToken } from './auth.ts';
import { type DibsApiHandlers, registerDibsApi } from './dibs-api.ts';
import { ApiError } from './errors.ts';
import { silentApiLogger } from './log.ts';
import { type OrgApiHandlers, registerOrgApi } from './orgs-api.ts';
import { createApiServer } from './server.ts';

/** The OpenAPI 3.1 document of every route a node serves (what GET /api/v1/openapi.json answers). */
export async function dibsOpenApiDocument(): Promise<Record<string, unknown>> {
  const api = createApiServer({ token: generateApiToken(), log: silentApiLogger });
  const unused = () => {
    throw new ApiError(501, 'NOT_IMPLEMENTED', 'this server only describes the API');
  };
  const handlers = new Proxy({} as DibsApiHandlers, { get: () => unused });
  registerDibsApi(api, handlers);
  registerOrgApi(api, new Proxy({} as OrgApiHandlers, { get: () => unused }));
  return api.openapi();
}
