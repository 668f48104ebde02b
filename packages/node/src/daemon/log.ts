import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger: one line per event to a file (JSON) and, for people, to stderr. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** JSON lines are appended here when set. */
  file?: string;
  /** Human lines go here (default stderr); null silences them. */
  console?: NodeJS.WritableStream | null;
  component?: string;
}

/** Field names whose values never reach a log, whatever a caller passes. */
const SECRET_FIELDS = /pass(word|phrase)?|secret|private|session.?key|token|mnemonic|seed/i;

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.DIBS_LOG_LEVEL as LogLevel | undefined) ?? 'info';
  const min = ORDER[level] ?? ORDER.info;
  const out = options.console === undefined ? process.stderr : options.console;
  if (options.file) mkdirSync(dirname(options.file), { recursive: true });
  const make = (component: string | undefined): Logger => {
    const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[lvl] < min) return;
      const safe = redact(fields);
      const time = new Date().toISOString();
      if (options.file) {
        appendFileSync(options.file, `${JSON.stringify({ time, level: lvl, component, msg, ...safe })}\n`);
      }
      if (out) {
        const extra = safe && Object.keys(safe).length > 0 ? ` ${formatFields(safe)}` : '';
        out.write(
          `${time.slice(11, 19)} ${lvl.padEnd(5)} ${component ? `[${component}] ` : ''}${msg}${extra}\n`,
        );
      }
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (c) => make(component ? `${component}/${c}` : c),
    };
  };
  return make(options.component);
}

function redact(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(k)) out[k] = '[redacted]';
    else if (typeof v === 'bigint') out[k] = v.toString();
    else if (v instanceof Error) out[k] = v.message;
    else out[k] = v;
  }
  return out;
}

function formatFields(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
