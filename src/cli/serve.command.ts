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
  /** Present at a first start: no users yet, the first owner is created with this token. */
  setup?: { token: string; file: string } | undefined;
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
    'Also:',
    `  curl --cacert ${s.tlsFiles.certFile} ${s.url}readyz`,
    '  strongroom doctor      # check every control',
    '  Ctrl-C (SIGTERM) stops the server gracefully.',
    '',
    ...firstSteps(s),
    '',
  ];
  return lines.filter((l) => l !== undefined).join('\n');
}

/** The banner's last lines: the console's address and what to do there first. */
export function firstSteps(s: Pick<ServeHandle, 'url' | 'setup' | 'tlsFiles'>): string[] {
  const accept = s.tlsFiles.selfSigned ? ' (accept the self-signed certificate once)' : '';
  if (!s.setup) return ['Open the console and sign in:', `  ${s.url}${accept}`];
  return [
    'First run — no users yet. Create the first owner:',
    `  1. Open ${s.url} in a browser${accept}.`,
    '  2. Paste this one-time setup token (valid for 1 hour; also in the file below, deleted once used):',
    `       ${s.setup.token}`,
    `       ${s.setup.file}`,
    '  3. Choose your email, name and password, then set up your authenticator app (MFA).',
  ];
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
