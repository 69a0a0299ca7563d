/**
 * A TCP proxy on 127.0.0.1 for the db-faults suite: PostgreSQL "goes away" without touching the
 * shared cluster. `pass` forwards; `refuse` cuts every open connection and resets new ones at once
 * (a server restarting); `blackhole` keeps new connections open but forwards nothing (a host that
 * stopped answering). `cut()` drops the open connections and stays in its mode.
 */
import net from 'node:net';

export type TcpMode = 'pass' | 'refuse' | 'blackhole';

export interface TcpProxy {
  port: number;
  mode(m: TcpMode): void;
  cut(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  let mode: TcpMode = 'pass';
  const pairs = new Set<net.Socket>();
  const server = net.createServer((client) => {
    pairs.add(client);
    client.on('close', () => pairs.delete(client));
    client.on('error', () => undefined);
    if (mode === 'refuse') return void client.resetAndDestroy();
    if (mode === 'blackhole') return;
    const up = net.connect(port, host);
    pairs.add(up);
    up.on('close', () => (pairs.delete(up), client.destroy()));
    up.on('error', () => client.destroy());
    client.on('close', () => up.destroy());
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cut = () => {
    for (const s of pairs) s.destroy();
    pairs.clear();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    mode(m) {
      mode = m;
      if (m !== 'pass') cut();
    },
    cut,
    async stop() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
