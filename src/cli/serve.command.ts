import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import type { TlsFiles } from '../installation/tls.ts';
import { configOrExit } from './context.ts';

/** What `serve` needs of a started server (the server module's `RunningServer` has this shape). */
export interface ServeHandle {
  url: string;
  httpsPort: number;
  httpPort: number | undefined;
  metricsPort: number | undefined;
  database: { summary: string };
  tlsFiles: TlsFiles;
  tls: { fingerprint256: string };
  logger: Logger;
  reloadTls(): Promise<unknown>;
  close(): Promise<void>;
}
export type StartServer = (config: Readonly<Config>) => Promise<ServeHandle>;

function banner(s: ServeHandle, home: string): string {
  const lines = [
    '',
    'Strongroom is running.',
    `  Console and API   ${s.url}`,
    s.httpPort !== undefined ? `  HTTP (redirects)  port ${s.httpPort} -> HTTPS` : undefined,
    s.metricsPort !== undefined
      ? `  Metrics           http://127.0.0.1:${s.metricsPort}/metrics (internal listener)`
      : undefined,
    `  Data directory    ${home}`,
    `  Database          ${s.database.summary}`,
    s.tlsFiles.selfSigned
      ? `  TLS               self-signed certificate ${s.tlsFiles.certFile}\n                    SHA-256 ${s.tls.fingerprint256}\n                    Browsers warn once; for production set STRONGROOM_TLS_CERT_FILE and STRONGROOM_TLS_KEY_FILE.`
      : `  TLS               ${s.tlsFiles.certFile} (reloaded on SIGHUP)`,
    '',
    'Next:',
    `  curl --cacert ${s.tlsFiles.certFile} ${s.url}readyz`,
    '  strongroom doctor      # check every control',
    '  Ctrl-C (SIGTERM) stops the server gracefully.',
    '',
  ];
  return lines.filter((l) => l !== undefined).join('\n');
}

export function registerServeCommand(program: Command, startServer: StartServer): void {
  program
    .command('serve')
    .description('Start the HTTPS server (creates the data directory and TLS material on first run)')
    .action(async () => {
      const config = configOrExit();
      const server = await startServer(config);
      server.logger.info(
        { url: server.url, httpsPort: server.httpsPort, httpPort: server.httpPort, metricsPort: server.metricsPort },
        'strongroom ready',
      );
      process.stderr.write(banner(server, config.STRONGROOM_HOME));

      process.on('SIGHUP', () => {
        server
          .reloadTls()
          .catch((err: Error) =>
            server.logger.error({ err: err.message }, 'TLS reload failed; keeping the current certificate'),
          );
      });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          server.logger.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        server.logger.info({ signal }, 'shutting down');
        server.close().then(
          () => {
            server.logger.info('shutdown complete');
            process.exitCode = 0;
          },
          (err: Error) => {
            server.logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
