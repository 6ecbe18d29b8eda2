/**
 * The collector's syslog listeners (config key `syslog`), started after the store opens and closed before it
 * closes, each on its own worker thread (listener-thread.ts). Every listener produces through the one produce path
 * as the principal `syslog` (role produce): syslog carries no tokens, so who may send is decided by where the
 * listener listens and by TLS client certificates (collector/config.ts refuses an open listener off loopback unless
 * allow_unauthenticated is set).
 */
import type { Logger } from '../../shared/logger.ts';
import type { Principal } from '../http/auth.ts';
import type { CollectorMetrics } from '../metrics.ts';
import type { ProducePath } from '../produce/produce.ts';
import type { RecordLimits } from '../produce/record-batches.ts';
import { SyslogListenerThread } from './listener-thread.ts';
import type { SyslogListenerOptions, SyslogProtocol } from './receiver.ts';

const SYSLOG_PRINCIPAL: Principal = Object.freeze({ name: 'syslog', role: 'produce' });

export interface SyslogListeners {
  /** The listeners in config order, with the ports they got (the real ones when 0 was configured). */
  readonly bound: readonly { readonly protocol: SyslogProtocol; readonly port: number }[];
  /** Stops listening and stores what was read, giving up after `deadlineMs`. */
  close(deadlineMs: number): Promise<void>;
}

export async function startSyslogListeners(
  listeners: readonly SyslogListenerOptions[],
  produce: ProducePath,
  limits: RecordLimits,
  metrics: Pick<CollectorMetrics, 'receiverEvents'>,
  logger: Logger,
): Promise<SyslogListeners> {
  const receivers: SyslogListenerThread[] = [];
  const close = async (deadlineMs: number) => {
    await Promise.all(receivers.map((r) => r.close(deadlineMs)));
  };
  try {
    for (const listener of listeners) {
      const receiver = await SyslogListenerThread.start({
        listener,
        limits,
        append: (batches) => produce.produce(SYSLOG_PRINCIPAL, listener.topic, batches, { encoding: 'syslog' }),
        events: metrics.receiverEvents('syslog', listener.protocol),
        logger,
      });
      receivers.push(receiver);
      logger.info(
        { protocol: listener.protocol, host: listener.host, port: receiver.port, topic: listener.topic },
        'syslog listening',
      );
    }
  } catch (error) {
    await close(0);
    throw error;
  }
  return { bound: receivers.map((r) => ({ protocol: r.protocol, port: r.port })), close };
}
