/**
 * The Mercure hub (draft-dunglas-mercure): subscribe, publish, JWT authorization, active subscriptions and
 * discovery, on top of the broker.
 * @module
 */
export { addMercureLink, type MercureLinkAttributes, mercureLinkHeader } from "./discovery.js";
export { createMercureHandler, type MercureHandler } from "./handler.js";
export { type MercureOptions, type ResolvedMercureOptions, resolveMercureOptions } from "./options.js";
export {
  HUB_PATH,
  type MatchType,
  SUBSCRIPTIONS_PATH,
  subscriptionId,
  subscriptionId1,
} from "./paths.js";
export {
  LocalSubscriptionRegistry,
  type Mercure1Subscription,
  type Mercure1SubscriptionDocument,
  type Mercure1SubscriptionFilter,
  type MercureSessionMeta,
  type SubscriptionDocument,
  type SubscriptionFilter,
  type SubscriptionRegistry,
} from "./registry.js";
