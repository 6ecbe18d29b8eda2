/**
 * The syslog listeners run on worker threads (collector/syslog/listener-thread.ts); stopping the collector must
 * still store every message a listener had read, and a sender's half-close is still answered only once what it sent
 * is durable. A real collector process, real TCP senders.
 */
import net from 'node:net';
import test from 'ava';
import { CollectorClient } from '../../../shared/client/collector-client.ts';
import { CollectorProcess } from '../../helpers/collector-process.ts';
import { freePort } from '../../helpers/ports.ts';
import { waitFor } from '../support.ts';

const LINES = 20_000;

function lines(from: number, count: number, tag: string): string {
  let out = '';
  for (let i = from; i < from + count; i++) out += `<13>Dec  2 10:00:00 h ${tag}: line ${i} ${'x'.repeat(100)}\n`;
  return out;
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('transport="tcp"'));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function storedCount(client: CollectorClient, topic: string): Promise<number> {
  const info = await client.describeTopic(topic).catch(() => undefined);
  return info ? info.partitions.reduce((n, p) => n + p.end_offset, 0) : 0;
}

test('syslog - SIGTERM stores every message the listener thread had read; a half-close is answered once they are durable', async (t) => {
  const port = await freePort();
  const collector = await CollectorProcess.start({
    config: { syslog: [{ protocol: 'tcp', port, topic: 'shutdown' }] },
  });
  const client = new CollectorClient({ urls: collector.url });
  let open: net.Socket | undefined;
  try {
    // A sender that half-closes gets our FIN only after its lines are stored.
    const ended = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => ended.once('connect', r));
    ended.end(lines(0, LINES, 'ended'));
    await new Promise<void>((resolve) => {
      ended.resume();
      ended.once('end', () => resolve());
    });
    t.is(await storedCount(client, 'shutdown'), LINES, 'stored when the FIN came back');
    ended.destroy();

    // A sender that stays connected: once the collector has read everything, SIGTERM it.
    open = net.connect({ host: '127.0.0.1', port });
    await new Promise((r) => open!.once('connect', r));
    open.write(lines(LINES, LINES, 'open'));
    await waitFor('every line read by the listener', async () =>
      (await metric(collector.url, 'tributary_collector_receiver_messages_total')) >= 2 * LINES ? true : undefined,
    );
    t.is(await collector.stop('SIGTERM'), 0);
    await collector.restart();
    t.is(await storedCount(new CollectorClient({ urls: collector.url }), 'shutdown'), 2 * LINES);
  } finally {
    open?.destroy();
    await collector.dispose();
  }
});
