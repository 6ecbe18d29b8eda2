/**
 * SaslHandshake (key 17), versions 0-1: the client names its mechanism; PLAIN is the one offered (the password is
 * a Tributary token, apis/36-sasl-authenticate.ts). After a v1 handshake the token comes in SaslAuthenticate;
 * after v0 it comes as one bare size-prefixed frame (connection.ts passes it to authenticatePlain). librdkafka
 * needs version 0 in the advertised range before it uses either. Use it over the TLS
 * listener (kafka.tls) anywhere but loopback: PLAIN sends the token as it is.
 */
import { KafkaWriter } from '../codec/primitives.ts';
import type { KafkaApi } from '../context.ts';
import { ApiKey, ErrorCode } from '../protocol.ts';

export const SASL_MECHANISMS = ['PLAIN'];

export const saslHandshakeApi: KafkaApi = {
  key: ApiKey.SaslHandshake,
  name: 'SaslHandshake',
  minVersion: 0,
  maxVersion: 1,
  beforeAuthentication: true,
  async handle(request) {
    const mechanism = request.body.string();
    const supported = SASL_MECHANISMS.includes(mechanism);
    request.session.saslMechanism = supported ? mechanism : undefined;
    request.session.bareSaslToken = supported && request.header.apiVersion === 0;
    const errorCode = supported ? 0 : ErrorCode.UNSUPPORTED_SASL_MECHANISM;
    request.countError(errorCode);
    return new KafkaWriter(32).int16(errorCode).array(SASL_MECHANISMS, (w, m) => w.string(m));
  },
};
