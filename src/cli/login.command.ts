/** `strongroom login`: sign in to a running server (email, password, TOTP) and keep the session in the user's config dir (0600). */
import type { Command } from 'commander';
import { configOrExit } from './context.ts';
import { ask, call, readSecret, saveCredentials, serverBase, sessionFromCookies } from './credentials.ts';

interface SessionBody {
  csrfToken: string;
  mfaRequired: boolean;
  mfaEnrolmentRequired: boolean;
  user: { email: string };
}

export function registerLoginCommand(program: Command): void {
  program
    .command('login')
    .description("Sign in to the running server and store the session in $XDG_CONFIG_HOME/strongroom/credentials.json (0600); prompts on the terminal unless the files are given")
    .option('--email <email>', 'account email (prompted if absent)')
    .option('--password-file <file>', 'read the password from this file instead of prompting')
    .option('--totp-file <file>', 'read the TOTP or recovery code from this file instead of prompting')
    .action(async (o: { email?: string; passwordFile?: string; totpFile?: string }) => {
      const server = await serverBase(configOrExit());
      const email = o.email ?? (await ask('Email: '));
      const password = await readSecret('Password: ', o.passwordFile);
      const r = await call<SessionBody>(server, 'POST', '/api/v1/auth/login', { email, password });
      let session = sessionFromCookies(r.setCookie)!;
      let body = r.body;
      if (body.mfaRequired) {
        const code = await readSecret('TOTP code: ', o.totpFile);
        const m = await call<SessionBody>({ ...server, session, csrf: body.csrfToken }, 'POST', '/api/v1/auth/mfa', { code });
        session = sessionFromCookies(m.setCookie)!;
        body = m.body;
      }
      const file = await saveCredentials({ ...server, session, csrf: body.csrfToken, email: body.user.email });
      process.stdout.write(`signed in as ${body.user.email}; session stored in ${file}\n`);
      if (body.mfaEnrolmentRequired) process.stdout.write('Your role requires MFA: enrol it (POST /api/v1/auth/mfa/enrol) before anything else.\n');
    });
}
