import { describeError } from './errors.ts';
import { runnableHints } from './invocation.ts';

/** Where a command writes: human text on a terminal, or one JSON object for scripts (`--json`). */
export interface Output {
  readonly json: boolean;
  /** Prints the command's result: `text` for people, `data` (one JSON object) for scripts. */
  result(data: unknown, text: string | (() => string)): void;
  /** A progress line for people (stderr), silent in JSON mode. */
  progress(line: string): void;
  /** A warning for people (stderr); in JSON mode a JSON line on stderr. */
  warn(line: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result(data, text) {
      if (json) process.stdout.write(`${JSON.stringify(data, jsonReplacer)}\n`);
      else process.stdout.write(`${runnableHints(typeof text === 'function' ? text() : text)}\n`);
    },
    progress(line) {
      if (!json) process.stderr.write(`${runnableHints(line)}\n`);
    },
    warn(line) {
      if (json) process.stderr.write(`${JSON.stringify({ warning: runnableHints(line) })}\n`);
      else process.stderr.write(`warning: ${runnableHints(line)}\n`);
    },
  };
}

/** Prints an error the way the output mode wants it; returns the exit code. */
export function reportError(json: boolean, err: unknown): number {
  const described = describeError(err);
  const code = described.code;
  const message = runnableHints(described.message);
  const hint = described.hint === undefined ? undefined : runnableHints(described.hint);
  if (json) {
    process.stdout.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } })}\n`);
  } else {
    process.stderr.write(`error: ${message}\n`);
    if (hint) process.stderr.write(`hint: ${hint}\n`);
    if (process.env.DIBS_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  }
  return 1;
}

/** JSON for bigint and byte arrays, which plain JSON.stringify cannot print. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  return value;
}

/** Lays out `key: value` rows with aligned values. */
export function table(rows: Array<[string, unknown]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  // A row with an empty key continues the one above it.
  return rows.map(([k, v]) => `${(k ? `${k}:` : '').padEnd(width + 2)}${String(v)}`).join('\n');
}
