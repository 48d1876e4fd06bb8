import { MAX_ZONE_LENGTH } from '../../common/registry-record';
import { validateServiceName } from '../../common/service-name';

/**
 * The limits and checks every frontend applies to what a client says about itself, so that a
 * client id, zone or resource name means the same and is bounded the same whatever the protocol.
 * Pure.
 */

/** The longest client id kept (lookaside.v1 refuses longer ones; xDS node ids are cut to it). */
export const MAX_CLIENT_ID_LENGTH = 256;
/** A requested resource or service name longer than this is answered as nonexistent, not kept. */
export const MAX_REQUESTED_NAME_LENGTH = 300;
/** How many names one xDS stream may subscribe to per type (and services over all types). */
export const MAX_SUBSCRIBED_NAMES = 256;

/** A requested name, quoted and cut for an error message. */
export function quoteName(name: string): string {
  return JSON.stringify(name.slice(0, MAX_REQUESTED_NAME_LENGTH));
}

/**
 * Checks the identity fields of an initial request; returns why it is refused (naming the field
 * as `<prefix>.<field>`), or undefined when it is valid.
 */
export function checkClientIdentity(
  prefix: string,
  fields: { readonly name: string; readonly clientId: string; readonly zone: string },
): string | undefined {
  const valid = validateServiceName(fields.name);
  if (!valid.ok) return `${prefix}.name ${quoteName(fields.name)}: ${valid.reason}`;
  if (fields.clientId.length > MAX_CLIENT_ID_LENGTH) {
    return `${prefix}.client_id is longer than ${MAX_CLIENT_ID_LENGTH} characters`;
  }
  if (fields.zone.length > MAX_ZONE_LENGTH) {
    return `${prefix}.zone is longer than ${MAX_ZONE_LENGTH} characters`;
  }
  return undefined;
}
