/** An error the CLI shows to the user: what went wrong, and a hint saying what to do next. */
export class CliError extends Error {
  override name = 'CliError';
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}

/** Reads a `code` and a `hint` from any error, typed or not. */
export function describeError(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof CliError) {
    return err.hint === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, hint: err.hint };
  }
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; hint?: unknown };
    const code = typeof e.code === 'string' ? e.code : e.name;
    const out: { code: string; message: string; hint?: string } = { code, message: e.message };
    if (typeof e.hint === 'string') out.hint = e.hint;
    return out;
  }
  return { code: 'UNKNOWN', message: String(err) };
}
