/**
 * The node's structured log on pino: JSON lines to a file that pino-roll rotates by size (keeping a
 * bounded number of old files), and to the terminal either readable text (pino-pretty) or JSON lines.
 * Callers redact fields before they log; pino's own `redact` covers the usual secret paths as well.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import pino, { type Logger as Pino, type StreamEntry } from 'pino';
import type PinoPrettyModule from 'pino-pretty';
import pinoRoll from 'pino-roll';
import { LOG_FORMATS, LOG_KEEP_FILES, LOG_ROTATE_SIZE } from './constants.ts';
import { ObserveError } from './errors.ts';

/** How the terminal shows log lines. */
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Options of {@link createLogSink}. */
export interface LogSinkOptions {
  level: 'debug' | 'info' | 'warn' | 'error';
  /** JSON lines go to this file, rotated: `<name>.<n><ext>` next to it, `current.log` links the newest. */
  file?: string | undefined;
  /** Terminal output (default none). */
  console?: NodeJS.WritableStream | null | undefined;
  /** `pretty` (readable text, the default) or `json` on the terminal. */
  format?: LogFormat | undefined;
  /** Rotation of the file: size per file (e.g. '10m', '512k') and old files kept. */
  rotate?: { size?: string; keep?: number } | undefined;
}

/** A pino logger and the streams under it. */
export interface LogSink {
  readonly pino: Pino;
  /** Resolves once the file is open (lines logged before are queued, not lost). */
  readonly ready: Promise<void>;
  /** Writes out what is buffered; call before exiting. */
  flush(): void;
}

/** Key paths pino blanks in every line, whatever the caller forgot (the daemon redacts by name too). */
export const REDACTED_PATHS = [
  'password',
  'passphrase',
  'secret',
  'privateKey',
  'token',
  'mnemonic',
  'seed',
  '*.password',
  '*.passphrase',
  '*.secret',
  '*.privateKey',
  '*.token',
  'authorization',
  '*.authorization',
];

/** pino-pretty, loaded only when a terminal shows readable lines (a service logging JSON never pays for it). */
function prettyStream(): typeof PinoPrettyModule {
  const mod = createRequire(import.meta.url)('pino-pretty') as typeof PinoPrettyModule & {
    default?: typeof PinoPrettyModule;
  };
  return mod.default ?? mod;
}

/** Checks a `--log-format` value. */
export function parseLogFormat(text: string | undefined): LogFormat | undefined {
  if (text === undefined) return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(text)) return text as LogFormat;
  throw new ObserveError(
    'BAD_LOG_FORMAT',
    `unknown log format ${JSON.stringify(text.slice(0, 32))}`,
    `use one of ${LOG_FORMATS.join(', ')}`,
  );
}

/** Creates the logger: file (rotated JSON) and terminal (pretty or JSON) streams. */
export function createLogSink(options: LogSinkOptions): LogSink {
  const streams: StreamEntry[] = [];
  if (options.console) {
    const stream =
      (options.format ?? 'pretty') === 'json'
        ? options.console
        : prettyStream()({
            destination: options.console,
            colorize: (options.console as { isTTY?: boolean }).isTTY === true,
            translateTime: 'SYS:HH:MM:ss',
            ignore: 'pid,hostname,component',
            messageFormat: '{if component}[{component}] {end}{msg}',
            singleLine: true,
            sync: true,
          });
    streams.push({ level: options.level, stream });
  }
  let file: { write(line: string): void; flushSync?: () => void } | undefined;
  const queued: string[] = [];
  let ready: Promise<void> = Promise.resolve();
  if (options.file) {
    try {
      mkdirSync(dirname(options.file), { recursive: true });
    } catch (err) {
      throw new ObserveError(
        'BAD_LOG_FILE',
        `cannot create the log directory of ${options.file}`,
        'check the data directory',
        {
          cause: err,
        },
      );
    }
    streams.push({
      level: options.level,
      stream: {
        write(line: string) {
          if (file) file.write(line);
          else queued.push(line);
        },
      },
    });
    ready = pinoRoll({
      file: options.file,
      size: options.rotate?.size ?? LOG_ROTATE_SIZE,
      limit: { count: options.rotate?.keep ?? LOG_KEEP_FILES },
      symlink: true,
      mkdir: true,
    }).then((roll) => {
      file = roll as unknown as typeof file;
      for (const line of queued.splice(0)) roll.write(line);
    });
  }
  const logger = pino(
    {
      level: options.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    pino.multistream(streams, { dedupe: false }),
  );
  return {
    pino: logger,
    ready,
    flush() {
      try {
        file?.flushSync?.();
      } catch {
        // Nothing buffered, or the file went away: nothing to flush.
      }
    },
  };
}
