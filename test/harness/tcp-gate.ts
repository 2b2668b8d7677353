/**
 * A TCP forwarder with a gate, for ordering reconnections in tests: while the gate is
 * shut, new connections are reset at once (the client's reconnect attempts fail); while
 * open, each one is piped to the target port on loopback.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpGate {
  readonly port: number;
  /** Let new connections through (true) or reset them (false). */
  setOpen(open: boolean): void;
  /** Connections refused while shut. */
  refused(): number;
  close(): Promise<void>;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  let open = true;
  let refused = 0;
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server: Server = createServer((client) => {
    track(client);
    if (!open) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    const both = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', both);
    upstream.on('close', both);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    setOpen: (o) => void (open = o),
    refused: () => refused,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
