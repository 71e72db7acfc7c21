/**
 * In-process brokers for core tests, each closed after its test.
 */
import { afterEach } from "node:test";
import { Broker } from "../../src/core/broker.js";

type Options = ConstructorParameters<typeof Broker>[0];

/** Returns a factory of brokers (heartbeat off unless asked for) that are closed after each test. */
export function brokerFactory(defaults: Options = {}): (opts?: Options) => Broker {
  const brokers: Broker[] = [];
  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.close();
  });
  return (opts = {}) => {
    const b = new Broker({ heartbeatMs: null, ...defaults, ...opts });
    brokers.push(b);
    return b;
  };
}
