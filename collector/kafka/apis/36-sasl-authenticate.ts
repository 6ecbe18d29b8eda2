/**
 * SaslAuthenticate (key 36), versions 0-1: SASL/PLAIN (RFC 4616: [authzid] NUL username NUL password). The
 * password is a Tributary token (the username is free: logs show the token's configured name); its role decides
 * what the connection may do afterwards: produce, read (fetch, offsets, groups) or admin (everything, topic
 * administration included). A wrong token gets SASL_AUTHENTICATION_FAILED and the client closes; a second
 * authentication on one connection gets ILLEGAL_SASL_STATE. Tokens are never logged.
 */
import { KafkaWriter } from '../codec/primitives.ts';
import type { KafkaApi, KafkaContext, KafkaSession } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const saslAuthenticateApi: KafkaApi = {
  key: ApiKey.SaslAuthenticate,
  name: 'SaslAuthenticate',
  minVersion: 0,
  maxVersion: 1,
  beforeAuthentication: true,
  async handle(request, ctx) {
    const v = request.header.apiVersion;
    const bytes = request.body.bytes();
    const session = request.session;
    const { errorCode, message } = authenticatePlain(ctx, session, bytes);
    request.countError(errorCode);
    const w = new KafkaWriter(64).int16(errorCode).nullableString(message).nullableBytes(Buffer.alloc(0));
    if (v >= 1) w.int64(0); // session_lifetime_ms: sessions do not expire
    return w;
  },
};

/** Checks SASL/PLAIN bytes and, on success, sets the session's principal. */
export function authenticatePlain(
  ctx: KafkaContext,
  session: KafkaSession,
  bytes: Buffer,
): { errorCode: number; message: string | null } {
  if (session.saslMechanism !== 'PLAIN' || session.principal !== undefined) {
    return {
      errorCode: ErrorCode.ILLEGAL_SASL_STATE,
      message: 'send SaslHandshake with mechanism PLAIN first, once per connection',
    };
  }
  session.saslMechanism = undefined;
  session.bareSaslToken = false;
  const parts = bytes.toString('utf8').split('\u0000');
  const principal = parts.length === 3 ? ctx.auth.identify(parts[2]!) : undefined;
  if (principal === undefined) {
    return {
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      message: 'authentication failed: the password must be a token configured on this collector',
    };
  }
  session.principal = principal;
  ctx.logger.debug({ token: principal.name, role: principal.role }, 'kafka client authenticated');
  return { errorCode: 0, message: null };
}
