/** Server-sent events (`text/event-stream`): typed, validated events fanned out to every open client. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Static, TSchema } from 'typebox';
import { MAX_SSE_CLIENTS, SSE_MAX_BUFFERED_BYTES, SSE_RETRY_MS } from './constants.ts';
import { ApiError } from './errors.ts';
import type { ApiLogger } from './log.ts';
import { compileValidator, describeIssues, type Validate } from './validation.ts';

/** Event names mapped to the schema of their `data`. */
export type EventMap = { [event: string]: TSchema };

/** One event of a map: its name and data. */
export type EventOf<E extends EventMap> = {
  [K in keyof E & string]: { event: K; data: Static<E[K]> };
}[keyof E & string];

/** Declaration of an event-stream route. */
export interface EventStreamDefinition<E extends EventMap> {
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  events: E;
  /** Events each new client receives first, e.g. a snapshot of current counters. */
  onConnect?: () => EventOf<E>[] | Promise<EventOf<E>[]>;
}

/** The publishing side of an event-stream route. */
export interface EventStream<E extends EventMap> {
  readonly path: string;
  /** Sends one event to every connected client; data is validated against its declared schema. */
  send<K extends keyof E & string>(event: K, data: Static<E[K]>): void;
  /** Number of connected clients (publishers may skip expensive work when zero). */
  readonly clientCount: number;
}

/** Internal state of a stream route, used by the server. */
export interface EventStreamRoute<E extends EventMap> extends EventStream<E> {
  readonly definition: EventStreamDefinition<E>;
  attach(req: IncomingMessage, res: ServerResponse): Promise<void>;
  heartbeat(): void;
  closeAll(): void;
}

/** Serialises one event in the SSE wire format; JSON.stringify never emits raw newlines. */
export function formatEvent(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Creates the stream route for `definition`; `sharedCount` bounds clients across all streams. */
export function createEventStream<E extends EventMap>(
  definition: EventStreamDefinition<E>,
  log: ApiLogger,
  sharedCount: { value: number },
): EventStreamRoute<E> {
  for (const name of Object.keys(definition.events)) {
    if (!/^[A-Za-z][\w.-]*$/.test(name)) {
      throw new ApiError(
        500,
        'INVALID_EVENT',
        `event name "${name}" must be a word (letters, digits, . _ -)`,
      );
    }
  }
  const clients = new Set<ServerResponse>();
  // Compiled on an event's first send: a node with no UI open never sends most of them.
  const validators = new Map<string, Validate>();
  let nextId = 1;

  const write = (res: ServerResponse, chunk: string): void => {
    if (res.writableLength > SSE_MAX_BUFFERED_BYTES) {
      log.warn('dropping a slow event-stream client', { path: definition.path });
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  };

  const encode = (event: string, data: unknown): string => {
    const schema = Object.hasOwn(definition.events, event) ? definition.events[event] : undefined;
    if (!schema) {
      throw new ApiError(500, 'INVALID_EVENT', `event "${event}" is not declared on ${definition.path}`);
    }
    let check = validators.get(event);
    if (!check) {
      check = compileValidator(schema, 'response');
      validators.set(event, check);
    }
    const result = check(data);
    if (!result.ok) {
      const detail = describeIssues('data', result.issues);
      throw new ApiError(500, 'INVALID_EVENT', `event "${event}" does not match its schema: ${detail}`);
    }
    return formatEvent(nextId++, event, result.value);
  };

  return {
    definition,
    path: definition.path,
    get clientCount() {
      return clients.size;
    },
    send(event, data) {
      const chunk = encode(event, data);
      for (const res of clients) write(res, chunk);
    },
    async attach(req, res) {
      if (sharedCount.value >= MAX_SSE_CLIENTS) {
        throw new ApiError(
          503,
          'TOO_MANY_STREAMS',
          `too many open event streams (${MAX_SSE_CLIENTS}); close other UI tabs or clients and retry`,
        );
      }
      sharedCount.value++;
      clients.add(res);
      let closed = false;
      const cleanup = () => {
        if (closed) return;
        closed = true;
        clients.delete(res);
        sharedCount.value--;
      };
      req.on('close', cleanup);
      res.on('close', cleanup);
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`retry: ${SSE_RETRY_MS}\n\n`);
      if (definition.onConnect) {
        const first = await definition.onConnect();
        for (const e of first) if (!closed) write(res, encode(e.event, e.data));
      }
    },
    heartbeat() {
      for (const res of clients) write(res, ': keep-alive\n\n');
    },
    closeAll() {
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
