/** Base of every error the chain package throws: a stable `code` plus a message saying what to do. */
export class ChainError extends Error {
  override name = 'ChainError';
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The anvil binary could not be found. */
export class AnvilNotFoundError extends ChainError {
  override name = 'AnvilNotFoundError';
  constructor(message: string, options?: ErrorOptions) {
    super('ANVIL_NOT_FOUND', message, options);
  }
}

/** Anvil did not start, did not answer in time, or answered with the wrong chain id. */
export class AnvilStartError extends ChainError {
  override name = 'AnvilStartError';
  readonly logFile: string;
  constructor(message: string, logFile: string, options?: ErrorOptions) {
    super('ANVIL_START_FAILED', `${message}; see ${logFile}`, options);
    this.logFile = logFile;
  }
}

/** The JSON-RPC endpoint did not answer. */
export class ChainUnreachableError extends ChainError {
  override name = 'ChainUnreachableError';
  readonly rpcUrl: string;
  constructor(rpcUrl: string, detail: string, options?: ErrorOptions) {
    super(
      'CHAIN_UNREACHABLE',
      `cannot reach the chain at ${rpcUrl}: ${detail}; check that the node or anvil is running, the URL and port are right and no firewall or proxy blocks it`,
      options,
    );
    this.rpcUrl = rpcUrl;
  }
}

/** The endpoint serves a different chain than the one configured. */
export class ChainIdMismatchError extends ChainError {
  override name = 'ChainIdMismatchError';
  readonly expected: number;
  readonly actual: number;
  constructor(rpcUrl: string, expected: number, actual: number) {
    super(
      'CHAIN_ID_MISMATCH',
      `the chain at ${rpcUrl} has chain id ${actual}, but ${expected} is configured; point the RPC URL at the right network or fix the configured chain id`,
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** A deployment could not be found, verified or created. */
export class DeploymentError extends ChainError {
  override name = 'DeploymentError';
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** The event watcher was misused or its stored cursor is unusable. */
export class WatcherError extends ChainError {
  override name = 'WatcherError';
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** A write was attempted without an account to sign it. */
export class NoAccountError extends ChainError {
  override name = 'NoAccountError';
  constructor(action: string) {
    super(
      'NO_ACCOUNT',
      `cannot ${action}: the chain clients have no account; create them with an account (wallet key)`,
    );
  }
}

/**
 * A contract call reverted. `errorName` is the contract's custom error (e.g. `NotServiceOwner`) when
 * the revert data decodes against the ABI, else undefined; `args` are its decoded arguments.
 */
export class ContractRevertError extends ChainError {
  override name = 'ContractRevertError';
  readonly contract: string;
  readonly functionName: string;
  readonly errorName: string | undefined;
  readonly args: readonly unknown[];
  readonly transactionHash: string | undefined;
  constructor(
    params: {
      contract: string;
      functionName: string;
      errorName?: string | undefined;
      args?: readonly unknown[];
      transactionHash?: string | undefined;
      detail: string;
    },
    options?: ErrorOptions,
  ) {
    const what = params.errorName
      ? `${params.errorName}(${(params.args ?? []).map(String).join(', ')})`
      : params.detail;
    super(
      'CONTRACT_REVERT',
      `${params.contract}.${params.functionName} reverted: ${what}; check the arguments, the caller's rights and the on-chain state`,
      options,
    );
    this.contract = params.contract;
    this.functionName = params.functionName;
    this.errorName = params.errorName;
    this.args = params.args ?? [];
    this.transactionHash = params.transactionHash;
  }
}
