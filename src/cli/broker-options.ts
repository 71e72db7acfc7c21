/**
 * CliConfig → the broker's options. Every CliConfig field named like a BrokerOptions field is that option
 * (the compiler checks each one's type), so a broker option the CLI gains needs no line here or in
 * server.ts: the names in DEFAULT_BROKER_OPTIONS are the one list.
 * @module
 */
import { type BrokerOptions, DEFAULT_BROKER_OPTIONS } from "../options.js";
import type { CliConfig } from "./args.js";

/** The fields the CLI configures under the broker's own names. */
export type CliBrokerOptions = Pick<BrokerOptions, keyof CliConfig & keyof BrokerOptions>;

export function brokerOptionsOf(config: CliConfig): CliBrokerOptions {
  // Fails to compile when a CliConfig field has a broker option's name but not its type.
  const typed: CliBrokerOptions = config;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_BROKER_OPTIONS)) {
    if (Object.hasOwn(typed, key)) out[key] = (typed as unknown as Record<string, unknown>)[key];
  }
  return out as CliBrokerOptions;
}
