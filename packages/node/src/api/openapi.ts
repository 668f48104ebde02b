/** Builds the OpenAPI 3.1 document from the declared routes and event streams; never written by hand. */
import type { EventStreamDefinition, EventMap } from './event-stream.ts';
import type { PathPattern } from './path-pattern.ts';
import type { AnyRoute } from './route.ts';
import type { JsonSchema } from './schema.ts';

/** Title and version shown in the document's `info`. */
export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** A compiled route as the server keeps it. */
export interface DocumentedRoute {
  route: AnyRoute;
  path: PathPattern;
}

/** A compiled event-stream route as the server keeps it. */
export interface DocumentedStream {
  definition: EventStreamDefinition<EventMap>;
  path: PathPattern;
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', description: 'Stable machine-readable code, e.g. INVALID_BODY' },
        message: { type: 'string', description: 'What went wrong and what to do about it' },
        requestId: { type: 'string', description: "Matches the node's log line for this request" },
      },
    },
  },
};

const STANDARD_ERRORS: Record<number, string> = {
  400: 'Malformed JSON or input that does not match the schema',
  401: 'Missing or wrong bearer token',
  404: 'No such route or resource',
  500: "Unexpected failure; details are in the node's log",
};

function errorResponse(description: string): JsonSchema {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

function defaultOperationId(method: string, openapiPath: string): string {
  const words = openapiPath
    .split('/')
    .filter(Boolean)
    .map((seg) =>
      seg.startsWith('{')
        ? `By${cap(seg.slice(1, -1))}`
        : cap(seg.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())),
    );
  return method.toLowerCase() + words.join('');
}

function cap(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function parameters(route: AnyRoute): JsonSchema[] {
  const out: JsonSchema[] = [];
  for (const [name, schema] of Object.entries(route.params?.shape ?? {})) {
    const json = schema.toJsonSchema();
    out.push({
      name,
      in: 'path',
      required: true,
      schema: json,
      ...(json.description ? { description: json.description } : {}),
    });
  }
  for (const [name, schema] of Object.entries(route.query?.shape ?? {})) {
    const json = schema.toJsonSchema();
    out.push({
      name,
      in: 'query',
      required: !schema.optional,
      schema: json,
      ...(json.description ? { description: json.description } : {}),
    });
  }
  return out;
}

/** The OpenAPI 3.1 document for `routes` and `streams`, with bearer auth on every operation. */
export function buildOpenApi(
  info: OpenApiInfo,
  routes: DocumentedRoute[],
  streams: DocumentedStream[],
): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const ops = (p: string) => {
    paths[p] ??= {};
    return paths[p];
  };
  for (const { route, path } of routes) {
    const status = route.status ?? (route.response ? 200 : 204);
    const responses: Record<string, JsonSchema> = {
      [status]: route.response
        ? {
            description: route.summary,
            content: { 'application/json': { schema: route.response.toJsonSchema() } },
          }
        : { description: route.summary },
    };
    const errors: Record<number, string> = { ...STANDARD_ERRORS };
    if (route.body) errors[413] = 'Request body larger than the limit';
    if (route.body) errors[415] = 'Request body is not application/json';
    Object.assign(errors, route.errors ?? {});
    for (const [code, description] of Object.entries(errors)) responses[code] = errorResponse(description);
    const op: JsonSchema = {
      operationId: route.operationId ?? defaultOperationId(route.method, path.openapiPath),
      summary: route.summary,
      responses,
    };
    if (route.description) op.description = route.description;
    if (route.tags) op.tags = route.tags;
    const params = parameters(route);
    if (params.length > 0) op.parameters = params;
    if (route.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: route.body.toJsonSchema() } },
      };
    }
    ops(path.openapiPath)[route.method.toLowerCase()] = op;
  }
  for (const { definition, path } of streams) {
    const events: Record<string, JsonSchema> = {};
    for (const [name, schema] of Object.entries(definition.events)) events[name] = schema.toJsonSchema();
    const op: JsonSchema = {
      operationId: defaultOperationId('GET', path.openapiPath),
      summary: definition.summary,
      description: `${definition.description ? `${definition.description}\n\n` : ''}Server-sent events; each event's \`data\` is JSON matching the schema listed under \`x-events\` for its name.`,
      'x-events': events,
      responses: {
        200: {
          description: 'An endless text/event-stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        401: errorResponse(STANDARD_ERRORS[401]!),
        503: errorResponse('Too many open event streams'),
      },
    };
    if (definition.tags) op.tags = definition.tags;
    ops(path.openapiPath).get = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      ...(info.description ? { description: info.description } : {}),
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: "The token from the node's data directory",
        },
      },
      schemas: { Error: ERROR_SCHEMA },
    },
  };
}
