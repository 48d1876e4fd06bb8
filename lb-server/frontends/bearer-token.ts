import { timingSafeEqual } from 'node:crypto';

/** Why a request's bearer token was refused, or 'ok'. */
export type BearerCheck = 'ok' | 'missing' | 'mismatch';

/**
 * Checks an `authorization` header value against the configured admin token, comparing in
 * constant time. No token configured (undefined or ''): every request is 'ok'. Called by the admin
 * gRPC frontend and the web console for every request; pure.
 */
export function checkBearerToken(header: string | undefined, token: string | undefined): BearerCheck {
  if (token === undefined || token === '') return 'ok';
  const match = /^Bearer (.+)$/i.exec(header ?? '');
  if (!match) return 'missing';
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'mismatch';
  return 'ok';
}
