/**
 * CliConfig → the broker's options. The broker options the CLI configures are listed once, here; CliConfig
 * takes those fields (type and doc comment) from BrokerOptions, so a broker option the CLI gains needs this
 * line, its row in option-specs.ts and its parse line in args.ts, and nothing in server.ts.
 * @module
 */
import type { BrokerOptions } from "../options.js";
import type { CliConfig } from "./args.js";

/** BrokerOptions fields the CLI sets, under the broker's own names (each from one option-specs.ts row). */
export const CLI_BROKER_KEYS = [
  "publishToken",
  "corsOrigins",
  "heartbeatMs",
  "retryMs",
  "maxStreamLifetimeMs",
  "tokenExpiryNoticeMs",
  "maxBufferedBytes",
  "flushIntervalMs",
  "maxFlushDelayMs",
  "historyLimit",
  "historyMaxBytes",
  "historyMaxTopics",
  "historyMaxEvents",
  "historyMaxTotalBytes",
  "shutdownRetrySpreadMs",
  "maxBodyBytes",
  "maxSelectorsPerSubscription",
  "maxSelectorLength",
  "maxTemplateExpressions",
  "maxPatternSelectors",
  "maxPatternSelectorsPerClient",
  "maxTopicsPerUpdate",
  "maxEventBytes",
  "maxBatchEvents",
  "idempotencyTtlMs",
  "maxIdempotencyKeys",
  "trustProxy",
  "publishOrigins",
  "maxConnections",
  "maxConnectionsPerIp",
  "connectionRatePerIp",
  "publishRatePerKey",
  "subscribeHookUrl",
  "subscribeHookTimeoutMs",
  "subscribeHookFailure",
  "subscribeHookCacheMs",
  "subscribeHookCacheSize",
  "subscribeHookConcurrency",
  "subscribeHookQueue",
  "disconnectHookUrl",
  "disconnectHookIntervalMs",
  "disconnectHookBatch",
  "disconnectHookQueue",
  "disconnectHookRetries",
  "disconnectHookTimeoutMs",
  "metricsToken",
  "consoleMode",
  "consoleToken",
  "presenceTopic",
] as const satisfies readonly (keyof BrokerOptions)[];

export type CliBrokerKey = (typeof CLI_BROKER_KEYS)[number];

/** The fields the CLI configures under the broker's own names. */
export type CliBrokerOptions = Pick<BrokerOptions, CliBrokerKey>;

/**
 * Fails to compile when args.ts declares a field named like a broker option that CLI_BROKER_KEYS lacks:
 * brokerOptionsOf would silently leave it out.
 */
export type StrayBrokerFields = Never<Exclude<keyof CliConfig & keyof BrokerOptions, CliBrokerKey>>;
type Never<T extends never> = T;

export function brokerOptionsOf(config: CliBrokerOptions): CliBrokerOptions {
  const out: Partial<Record<CliBrokerKey, unknown>> = {};
  for (const key of CLI_BROKER_KEYS) out[key] = config[key];
  return out as CliBrokerOptions;
}
