/** Operating a DIBS node: Prometheus metrics and structured, rotated, redacted logs. */
export * from './constants.ts';
export * from './errors.ts';
export * from './metrics.ts';
export * from './logger.ts';
