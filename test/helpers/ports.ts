/**
 * A free TCP port on 127.0.0.1, for servers that must be told their port up front (a child process, prometheus).
 * The OS picks it (listen on port 0) and the socket is closed before returning: there is a small window in which
 * another process could take it, so callers that can listen on port 0 themselves should.
 */
import net from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('the OS gave no port'))));
    });
  });
}
