/**
 * Bearer-token authentication with roles. Each route declares the role it needs (`produce`, `read`, `admin`;
 * admin implies the others); a request without a known token gets 401, a known token without the role 403.
 *
 * Tokens are compared in constant time: both sides are hashed to 32 bytes (so lengths never leak) and every
 * configured token is compared, with no early exit. Tokens are never logged (shared/logger.ts redacts the header).
 * With no tokens configured, authentication is off (collector.ts refuses a non-loopback listen in that case unless
 * allow_unauthenticated is set).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.ts';
import type { Role, TokenEntry } from '../config.ts';

export interface Principal {
  /** The token's configured name (never the token). */
  readonly name: string;
  readonly role: Role;
}

const ANONYMOUS: Principal = { name: 'anonymous', role: 'admin' };

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function roleAllows(held: Role, needed: Role): boolean {
  return held === 'admin' || held === needed;
}

/** Throws ForbiddenError unless the principal's role allows `needed`. */
export function assertRole(principal: Principal, needed: Role): void {
  if (!roleAllows(principal.role, needed)) {
    throw new ForbiddenError(
      `token '${principal.name}' has role '${principal.role}'; this operation needs role '${needed}'`,
    );
  }
}

export class Authenticator {
  private readonly entries: readonly { readonly digest: Buffer; readonly principal: Principal }[];

  constructor(tokens: readonly TokenEntry[]) {
    this.entries = tokens.map((t) => ({ digest: digest(t.token), principal: { name: t.name, role: t.role } }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** The principal a token belongs to, or undefined (constant time over every configured token). */
  identify(token: string): Principal | undefined {
    const presented = digest(token);
    let found: Principal | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry.principal;
    }
    return found;
  }

  /** Returns who is calling, or throws UnauthenticatedError / ForbiddenError. */
  authorize(authorization: string | undefined, needed: Role): Principal {
    const found = this.authenticate(authorization);
    assertRole(found, needed);
    return found;
  }

  /** Who is calling, whatever their role (anonymous admin when authentication is off); throws UnauthenticatedError. */
  authenticate(authorization: string | undefined): Principal {
    if (!this.enabled) return ANONYMOUS;
    if (authorization === undefined || authorization === '') {
      throw new UnauthenticatedError(
        'this collector requires a token: send the header "Authorization: Bearer <token>"',
      );
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m) throw new UnauthenticatedError('the Authorization header must be "Bearer <token>"');
    const found = this.identify(m[1]!);
    if (!found) throw new UnauthenticatedError('the token is not valid for this collector');
    return found;
  }
}
