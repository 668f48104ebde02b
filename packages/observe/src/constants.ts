/** Names and limits of the node's metrics and logs; one place so docs, tests and code agree. */

/** Prefix of every DIBS metric name. */
export const METRIC_PREFIX = 'dibs_';

/** Content type of the Prometheus text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Longest a metrics source may take on a scrape before its gauge is reported as unknown (ms). */
export const METRIC_SOURCE_TIMEOUT_MS = 2_000;

/** Size at which the log file is rotated (pino-roll `size`). */
export const LOG_ROTATE_SIZE = '10m';

/** Rotated log files kept besides the current one (pino-roll `limit.count`). */
export const LOG_KEEP_FILES = 5;

/** Log output formats on the terminal: JSON lines or readable text. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
