/**
 * `strongroom sso …`: single sign-on configuration.
 * - Providers are installation-wide, so `list|show|add-oidc|add-saml|remove` use the operator
 *   credential of the data directory, through the running server (there is no offline mode: the
 *   issuer is checked through the egress guard and OIDC discovery when a provider is saved).
 * - A workspace's group → role mappings and SSO enforcement (`map`, `enforce`, `settings`) are the
 *   workspace's owners' and admins': they use the session from `strongroom login`.
 * Secrets (the OIDC client secret) are read from a file, never from the command line.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SsoProvider } from '../contracts/index.ts';
import { CliExit, configOrExit } from './context.ts';
import { loadCredentials, sessionApi } from './credentials.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer, say } from './server-link.ts';

async function operatorApi() {
  const api = await connectToServer(configOrExit());
  if (!api)
    throw new CliExit(EXIT.FAILED, 'No server answers: single sign-on is configured through the running server.');
  say('online', 'single sign-on providers');
  return api;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function printProvider(p: SsoProvider): void {
  process.stdout.write(
    `${p.id}  ${p.kind}  ${p.enabled ? 'enabled' : 'disabled'}  "${p.displayName}"  issuer ${p.issuer}${p.hasSecret ? '  (client secret set)' : ''}\n`,
  );
  if (p.lastError) process.stdout.write(`  last problem (${p.lastError.at}): ${p.lastError.message}\n`);
}

export function registerSsoCommand(program: Command): void {
  const sso = program
    .command('sso')
    .description('Single sign-on: identity providers, group → role mappings, enforcement');

  sso
    .command('list')
    .description('List the identity providers (operator)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const { providers } = await (await operatorApi()).sso.providers();
      if (o.json) return void process.stdout.write(`${JSON.stringify(providers, null, 2)}\n`);
      if (providers.length === 0) process.stdout.write('no single sign-on provider yet\n');
      for (const p of providers) printProvider(p);
    });

  sso
    .command('show <id>')
    .description('Show one provider with its settings (never its secret)')
    .action(async (id: string) => {
      process.stdout.write(`${JSON.stringify(await (await operatorApi()).sso.provider(id), null, 2)}\n`);
    });

  sso
    .command('add-oidc <id>')
    .description('Add an OpenID Connect provider by its issuer (discovery URL without /.well-known)')
    .requiredOption('--issuer <url>', 'https issuer URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0')
    .requiredOption('--client-id <id>', 'the client (application) id registered at the IdP')
    .option('--client-secret-file <file>', 'a file holding the client secret (kept sealed; never printed)')
    .option('--ca-file <file>', 'an extra trusted root (PEM) for an IdP behind a private CA')
    .option('--name <displayName>', 'what the sign-in button says')
    .option('--groups-claim <path>', 'dotted path of the groups claim', 'groups')
    .option('--required-group <group>', 'only members of this group may sign in (repeatable)', collect, [])
    .option(
      '--email-link-domain <domain>',
      'link verified emails of this domain to existing accounts (repeatable)',
      collect,
      [],
    )
    .action(
      async (
        id: string,
        o: {
          issuer: string;
          clientId: string;
          clientSecretFile?: string;
          caFile?: string;
          name?: string;
          groupsClaim: string;
          requiredGroup: string[];
          emailLinkDomain: string[];
        },
      ) => {
        const body = {
          id,
          kind: 'oidc' as const,
          displayName: o.name ?? id,
          issuer: o.issuer,
          clientId: o.clientId,
          groupsClaim: o.groupsClaim,
          requiredGroups: o.requiredGroup,
          emailLinkDomains: o.emailLinkDomain,
          ...(o.clientSecretFile ? { clientSecret: (await readFile(o.clientSecretFile, 'utf8')).trim() } : {}),
          ...(o.caFile ? { caPem: await readFile(o.caFile, 'utf8') } : {}),
        };
        printProvider(await (await operatorApi()).sso.addProvider(body));
      },
    );

  sso
    .command('add-saml <id>')
    .description('Add a SAML 2.0 identity provider from its metadata XML')
    .requiredOption('--metadata-file <file>', 'the IdP metadata (entity id, SSO URL, signing certificate)')
    .option('--name <displayName>', 'what the sign-in button says')
    .option('--groups-attribute <name>', 'the attribute carrying groups', 'groups')
    .option('--email-attribute <name>', 'the attribute carrying the email', 'email')
    .option('--required-group <group>', 'only members of this group may sign in (repeatable)', collect, [])
    .option('--allow-unsigned-response', 'accept a response whose assertion alone is signed (explicit opt-out)')
    .action(
      async (
        id: string,
        o: {
          metadataFile: string;
          name?: string;
          groupsAttribute: string;
          emailAttribute: string;
          requiredGroup: string[];
          allowUnsignedResponse?: boolean;
        },
      ) => {
        const provider = await (
          await operatorApi()
        ).sso.addProvider({
          id,
          kind: 'saml',
          displayName: o.name ?? id,
          metadataXml: await readFile(o.metadataFile, 'utf8'),
          groupsClaim: o.groupsAttribute,
          emailAttribute: o.emailAttribute,
          requiredGroups: o.requiredGroup,
          allowUnsignedResponse: Boolean(o.allowUnsignedResponse),
        });
        printProvider(provider);
        process.stdout.write(
          `give the IdP this service provider: metadata at /api/v1/auth/sso/${id}/saml/metadata, ACS /api/v1/auth/sso/${id}/saml/acs\n`,
        );
      },
    );

  sso
    .command('remove <id>')
    .description('Remove a provider (its users keep their accounts; they can no longer sign in through it)')
    .action(async (id: string) => {
      await (await operatorApi()).sso.removeProvider(id);
      process.stdout.write(`removed ${id}\n`);
    });

  sso
    .command('map <provider> <mapping...>')
    .description('Set a workspace’s group → role mappings for a provider: group=role … (group * = everyone of it)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (provider: string, mapping: string[], o: { workspace: string }) => {
      const mappings = mapping.map((m) => {
        const i = m.lastIndexOf('=');
        if (i <= 0) throw new CliExit(EXIT.USAGE, `"${m}" is not group=role`);
        return { group: m.slice(0, i), role: m.slice(i + 1) };
      });
      await sessionApi(await loadCredentials()).sso.setMappings(o.workspace, provider, mappings);
      process.stdout.write(`${mappings.length} mapping(s) for ${provider} in ${o.workspace}\n`);
    });

  sso
    .command('enforce <on|off>')
    .description('Refuse password sign-in for SSO users of the workspace (owners with MFA keep break-glass)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (state: string, o: { workspace: string }) => {
      if (state !== 'on' && state !== 'off') throw new CliExit(EXIT.USAGE, 'say on or off');
      await sessionApi(await loadCredentials()).sso.setEnforcement(o.workspace, state === 'on');
      process.stdout.write(`single sign-on enforcement ${state} in ${o.workspace}\n`);
    });

  sso
    .command('settings')
    .description('Show a workspace’s mappings and enforcement')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (o: { workspace: string }) => {
      const s = await sessionApi(await loadCredentials()).sso.settings(o.workspace);
      process.stdout.write(`enforcement: ${s.enforce ? 'on' : 'off'}\n`);
      for (const m of s.mappings) process.stdout.write(`  ${m.provider}: ${m.group} → ${m.role}\n`);
    });
}
