/** `strongroom login`: sign in to a running server (email, password, TOTP) and keep the session in the user's config dir (0600). */
import type { Command } from 'commander';
import { configOrExit } from './context.ts';
import { ask, readSecret, saveCredentials, serverBase, sessionApi, sessionFromCookies } from './credentials.ts';

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description(
      'Sign in to the running server and store the session in $XDG_CONFIG_HOME/strongroom/credentials.json (0600); prompts on the terminal unless the files are given',
    )
    .option('--email <email>', 'account email (prompted if absent)')
    .option('--password-file <file>', 'read the password from this file instead of prompting')
    .option('--totp-file <file>', 'read the TOTP or recovery code from this file instead of prompting')
    .action(async (o: { email?: string; passwordFile?: string; totpFile?: string }) => {
      const server = await serverBase(configOrExit());
      const email = o.email ?? (await ask('Email: '));
      const password = await readSecret('Password: ', o.passwordFile);
      let cookies: string[] = [];
      const keep = (setCookie: string[]) => void (cookies = setCookie);
      let body = await sessionApi(server, keep).auth.login(email, password);
      let session = sessionFromCookies(cookies)!;
      if (body.mfaRequired) {
        const code = await readSecret('TOTP code: ', o.totpFile);
        body = await sessionApi({ ...server, session, csrf: body.csrfToken! }, keep).auth.mfa(code);
        session = sessionFromCookies(cookies)!;
      }
      const file = await saveCredentials({ ...server, session, csrf: body.csrfToken!, email: body.user.email });
      process.stdout.write(`signed in as ${body.user.email}; session stored in ${file}\n`);
      if (body.mfaEnrolmentRequired)
        process.stdout.write('Your role requires MFA: enrol it (POST /api/v1/auth/mfa/enrol) before anything else.\n');
    });
}
