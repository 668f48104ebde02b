/** A failure in the contracts package's TypeScript side (deployment); `code` names the cause. */
export class ContractsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'ContractsError';
    this.code = code;
  }
}
