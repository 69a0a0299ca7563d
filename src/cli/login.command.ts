/**
 * `strongroom login`: sign in to a running server and keep the session in the user's config dir (0600).
 *
 * Password: email, password, TOTP. Single sign-on (`--sso [provider]`): a paste-code flow that
 * works the same on a laptop and on a headless machine over SSH —
 * 1. the CLI makes a secret verifier and starts the sign-in with its SHA-256 (`?cli=`), printing
 *    the URL to open in any browser (under STRONGROOM_PUBLIC_URL: the browser must start and end
 *    on the site's public origin); it never listens on a port and nothing is registered at the IdP;
 * 2. the browser signs in at the IdP as usual (same checks as the console) and, at the end, gets
 *    no session: only a one-time code (5 minutes) on the page;
 * 3. the user pastes the code; the CLI redeems code + verifier for the session. A code seen by
 *    someone else is useless without the verifier, which never leaves this process; one wrong
 *    try uses the code up.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { paths } from '../client/api.ts';
import { CliExit, configOrExit } from './context.ts';
import { ask, readSecret, saveCredentials, serverBase, sessionApi, sessionFromCookies } from './credentials.ts';
import { EXIT } from './exit-codes.ts';

type LoginOptions = { email?: string; passwordFile?: string; totpFile?: string; sso?: string | boolean };

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description(
      'Sign in to the running server and store the session in $XDG_CONFIG_HOME/strongroom/credentials.json (0600); prompts on the terminal unless the files are given',
    )
    .option('--email <email>', 'account email (prompted if absent)')
    .option('--password-file <file>', 'read the password from this file instead of prompting')
    .option('--totp-file <file>', 'read the TOTP or recovery code from this file instead of prompting')
    .option(
      '--sso [provider]',
      'sign in with single sign-on: open the printed URL in a browser, then paste the code it shows (provider optional when only one is enabled)',
    )
    .action(async (o: LoginOptions) => {
      const server = await serverBase(configOrExit());
      let cookies: string[] = [];
      const keep = (setCookie: string[]) => void (cookies = setCookie);
      let body;
      if (o.sso !== undefined) {
        const provider = await pickProvider(server, o.sso);
        const verifier = randomBytes(32).toString('base64url');
        const challenge = createHash('sha256').update(verifier, 'utf8').digest('base64url');
        process.stdout.write(
          `Open this URL in a browser and sign in with ${provider}:\n\n  ${server.baseUrl.replace(/\/+$/, '')}${paths.ssoCliStart(provider, challenge)}\n\n`,
        );
        const code = (await ask('Then paste the code the browser shows: ')).trim();
        if (!code) throw new CliExit(EXIT.USAGE, 'No code given.');
        body = await sessionApi(server, keep).sso.redeemCli(code, verifier);
      } else {
        const email = o.email ?? (await ask('Email: '));
        const password = await readSecret('Password: ', o.passwordFile);
        body = await sessionApi(server, keep).auth.login(email, password);
      }
      let session = sessionFromCookies(cookies)!;
      if (body.mfaRequired) {
        const code = await readSecret('TOTP code: ', o.totpFile);
        body = await sessionApi({ ...server, session, csrf: body.csrfToken! }, keep).auth.mfa(code);
        session = sessionFromCookies(cookies)!;
      }
      const file = await saveCredentials({ ...server, session, csrf: body.csrfToken!, email: body.user.email });
      process.stdout.write(`signed in as ${body.user.email}; session stored in ${file}\n`);
      if ('mfaEnrolmentRequired' in body && body.mfaEnrolmentRequired)
        process.stdout.write('Your role requires MFA: enrol it (POST /api/v1/auth/mfa/enrol) before anything else.\n');
    });
}

/** The provider asked for, or the only enabled one. */
async function pickProvider(server: { baseUrl: string; ca?: string }, asked: string | boolean): Promise<string> {
  if (typeof asked === 'string') return asked;
  const { providers } = await sessionApi(server).sso.signInProviders();
  if (providers.length === 1) return providers[0]!.id;
  throw new CliExit(
    EXIT.USAGE,
    providers.length === 0
      ? 'This server has no single sign-on provider enabled.'
      : `Name the provider: --sso <${providers.map((p) => p.id).join('|')}>`,
  );
}
