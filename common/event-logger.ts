/**
 * Where the client SDK and the registrar send their few edge events: one structured object a
 * line (`{ event, ...fields }`), never prose. Given by the application (`installLookaside({ logger
 * })`, `registerService({ logger })`); a pino Logger is one, and so is anything else with these
 * three methods, so the client package does not depend on pino.
 */
export interface EventLogger {
  debug(fields: Record<string, unknown>): void;
  info(fields: Record<string, unknown>): void;
  warn(fields: Record<string, unknown>): void;
}
