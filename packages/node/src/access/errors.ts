/** A failure of the access client, with a hint saying what to do. */
export class AccessError extends Error {
  override name = 'AccessError';
  readonly code: string;
  readonly hint: string;
  constructor(code: string, message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.hint = hint;
  }
}
