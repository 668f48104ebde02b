/**
 * The daemon's logger: pino underneath (@dibs/observe — rotated JSON file, pretty or JSON terminal),
 * fields redacted by name before any line is written, and the newest lines kept in a ring for the
 * management API and UI.
 */
import { createLogSink, type LogFormat } from '@dibs/observe';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger: one line per event to a file (JSON) and, for people, to stderr. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
  /** The recent lines of this logger and its children, when it keeps them. */
  readonly ring?: LogRing | undefined;
  /** Writes out buffered file lines (before exit). */
  flush?(): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** JSON lines are written here when set, rotated by size (see @dibs/observe). */
  file?: string;
  /** Terminal format: readable text (`pretty`, default) or JSON lines. */
  format?: LogFormat;
  /** Rotation of the file: size per file (e.g. '10m', '512k') and old files kept. */
  rotate?: { size?: string; keep?: number };
  /** Human lines go here (default stderr); null silences them. */
  console?: NodeJS.WritableStream | null;
  component?: string;
  /** Recent lines are kept here too (after redaction), for the management API and UI; default a new ring. */
  ring?: LogRing | null;
}

/** One redacted log line as the ring keeps it: field values flattened to bounded strings. */
export interface LogRecord {
  seq: number;
  time: string;
  level: LogLevel;
  component: string | null;
  message: string;
  fields: Record<string, string>;
}

/** Most lines a {@link LogRing} keeps by default. */
export const LOG_RING_CAPACITY = 1000;
/** Longest message or field value kept in the ring (characters); longer ones are cut with an ellipsis. */
export const LOG_RING_MAX_TEXT = 2000;
/** Most fields kept per line in the ring. */
export const LOG_RING_MAX_FIELDS = 64;

/** A bounded buffer of the newest log lines, with listeners for live followers (the UI's log page). */
export class LogRing {
  readonly capacity: number;
  readonly #lines: LogRecord[] = [];
  readonly #listeners = new Set<(line: LogRecord) => void>();
  #seq = 0;

  constructor(capacity = LOG_RING_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('log ring capacity must be >= 1');
    this.capacity = capacity;
  }

  /** Records one already redacted line and tells the listeners. */
  push(level: LogLevel, component: string | undefined, message: string, fields?: Record<string, unknown>) {
    const out: Record<string, string> = {};
    let n = 0;
    for (const [k, v] of Object.entries(fields ?? {})) {
      if (n++ >= LOG_RING_MAX_FIELDS) break;
      out[k.slice(0, 100)] = clip(typeof v === 'string' ? v : safeJson(v));
    }
    const line: LogRecord = {
      seq: this.#seq++,
      time: new Date().toISOString(),
      level,
      component: component ? clip(component, 100) : null,
      message: clip(message),
      fields: out,
    };
    this.#lines.push(line);
    if (this.#lines.length > this.capacity) this.#lines.shift();
    for (const l of this.#listeners) {
      try {
        l(line);
      } catch {}
    }
  }

  /** The newest `limit` lines at `minLevel` or above, oldest first. */
  entries(limit = 200, minLevel: LogLevel = 'debug'): LogRecord[] {
    const min = ORDER[minLevel] ?? ORDER.debug;
    const picked = this.#lines.filter((l) => ORDER[l.level] >= min);
    return picked.slice(Math.max(0, picked.length - Math.max(0, limit)));
  }

  /** Calls `listener` with every new line; returns the unsubscribe function. */
  subscribe(listener: (line: LogRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

function clip(text: string, max = LOG_RING_MAX_TEXT): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Field names whose values never reach a log, whatever a caller passes. */
const SECRET_FIELDS = /pass(word|phrase)?|secret|private|session.?key|token|mnemonic|seed/i;

/** A logger writing JSON lines to `file`, human lines to the console, and recent lines to `ring`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.DIBS_LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const min = ORDER[level] ?? ORDER.info;
  const out = options.console === undefined ? process.stderr : options.console;
  const sink =
    options.file || out
      ? createLogSink({
          level: ORDER[level] ? level : 'info',
          file: options.file,
          console: out,
          format: options.format,
          rotate: options.rotate,
        })
      : undefined;
  const ring = options.ring === null ? undefined : (options.ring ?? new LogRing());
  const make = (component: string | undefined): Logger => {
    const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[lvl] < min) return;
      const safe = redact(fields);
      ring?.push(lvl, component, msg, safe);
      sink?.pino[lvl]({ ...(component ? { component } : {}), ...safe }, msg);
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (c) => make(component ? `${component}/${c}` : c),
      ring,
      flush: () => sink?.flush(),
    };
  };
  return make(options.component);
}

function redact(fields: Record<string, unknown> | undefined, depth = 0): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(k)) out[k] = '[redacted]';
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (v instanceof Error) out[k] = v.message;
    // Nested objects are redacted too (a few levels deep), so a secret cannot ride inside one.
    else if (isPlainObject(v)) out[k] = depth < 3 ? redact(v, depth + 1) : '[nested]';
    else out[k] = v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
