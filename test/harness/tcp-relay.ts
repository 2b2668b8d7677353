/**
 * A byte-level TCP relay on loopback, standing in for the network between the bridge and
 * a real SIP peer (a NAT, a load balancer, a firewall): every connection accepted on
 * `port` is piped to `target` on a connection of its own. `resetClients()` resets the
 * connections the bridge opened (RST, as a NAT or middlebox flushing its state does)
 * while the peer behind keeps running; later connections are relayed again. The relay
 * reads nothing and changes nothing: the SIP peer sees the bridge's bytes as sent.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpRelay {
  /** The port the bridge connects to. */
  readonly port: number;
  /** Connections accepted so far (the bridge's). */
  accepted(): number;
  /** Resets every open connection from the bridge (RST); returns how many. */
  resetClients(): number;
  /** Closes the listener and every connection on both sides. */
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  /** The bridge's connections, each with its own connection to the peer. */
  const clients = new Map<Socket, Socket>();
  const upstreams = new Set<Socket>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted += 1;
    const up = connect({ host: target.host, port: target.port });
    clients.set(client, up);
    upstreams.add(up);
    client.pipe(up);
    up.pipe(client);
    // A reset of one side ends the other with it, unless the reset was ours (resetClients
    // keeps the peer's side open: the peer never learns the path broke).
    client.on('error', () => undefined);
    up.on('error', () => client.destroy());
    client.once('close', () => clients.delete(client));
    up.once('close', () => upstreams.delete(up));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no TCP address');
  return {
    port: address.port,
    accepted: () => accepted,
    resetClients() {
      let n = 0;
      for (const [c, up] of clients) {
        c.unpipe(up);
        up.unpipe(c);
        c.resetAndDestroy();
        n++;
      }
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of [...clients.keys(), ...upstreams]) s.destroy();
        server.close(() => resolve());
      }),
  };
}
