/**
 * `sse-broker/client`: a typed Server-Sent Events client for browsers and Node 20 (fetch streaming, so it
 * sends `Authorization`; reconnect with `Last-Event-ID`; the broker's control events as callbacks; Mercure
 * helpers). Uses only fetch, streams, TextDecoder, AbortController, timers (and, for `shared`, Web Locks
 * and BroadcastChannel): nothing Node-only.
 * @module
 */

export type { ErrorCode } from "../errors.js";
export { SseBrokerError } from "../errors.js";
export type { ReconnectOptions } from "./backoff.js";
export { DEFAULT_RECONNECT, ReconnectPolicy } from "./backoff.js";
export type {
  ClientEvents,
  ClientOptions,
  EventMap,
  Handler,
  Role,
  SelectorChange,
  SseMessage,
} from "./client.js";
export { createClient, SseClient } from "./client.js";
export type {
  ConnectionState,
  Credentials,
  ErrorInfo,
  ErrorPhase,
  OpenInfo,
  RefreshInfo,
} from "./connection.js";
export type {
  ClosedNotice,
  ControlEvents,
  ControlType,
  MissedNotice,
  TokenExpiringNotice,
} from "./control.js";
export { CLOSED_EVENT, MISSED_EVENT, TOKEN_EXPIRING_EVENT } from "./control.js";
export type { MercureUpdate, PublishEvent, PublishOptions } from "./publish.js";
export { publish, publishMercure } from "./publish.js";
export type { ChangeResult } from "./shared.js";
export type { TokenProvider, TokenReason } from "./token.js";
export { bearer } from "./token.js";
export type { Mercure1Matchers, MercureExtensions, ResumeOptions } from "./urls.js";
export { eventsUrl, MERCURE_PATH, mercure1SubscribeUrl, mercureSubscribeUrl } from "./urls.js";
