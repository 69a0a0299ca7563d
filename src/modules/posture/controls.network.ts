/**
 * The client network allowlist as a control: which addresses may call the API
 * (STRONGROOM_ALLOWED_CLIENT_CIDRS) and whose X-Forwarded-For is believed
 * (STRONGROOM_TRUSTED_PROXIES). Read from the parsed settings the server enforces.
 */
import type { ClientNetwork } from '../../core/net/client-allowlist.ts';
import { fail, pass, warn, type Control } from './posture.registry.ts';

export interface NetworkControlDeps {
  network: ClientNetwork;
}

/** A block this wide (IPv4 /1–/7, IPv6 /1–/15) restricts next to nothing. */
const tooWide = (cidr: string) => {
  const [address = '', prefix = '0'] = cidr.split('/');
  return Number(prefix) < (address.includes(':') ? 16 : 8);
};

export function networkControls({ network }: NetworkControlDeps): Control[] {
  return [
    {
      id: 'network.client-allowlist',
      title: 'Client network allowlist',
      promise:
        'Access to the platform is restricted to the networks the customer names (policies based on IP addresses).',
      method:
        'Reads the allowlist and trusted proxies the server enforces: requests from elsewhere are refused before authentication and recorded as network.client.refused.',
      remedy:
        'Set STRONGROOM_ALLOWED_CLIENT_CIDRS to your networks (and STRONGROOM_TRUSTED_PROXIES to your load balancers, if any), then restart; workspaces may narrow it further.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.1', 'CC6.6'], iso27001: ['A.8.20', 'A.8.22'], pciDss: ['1.3.1'] },
      async check() {
        const allowed = [...network.allowed.entries];
        const evidence = { allowed, trustedProxies: [...network.trustedProxies.entries] };
        const wide = allowed.filter(tooWide);
        if (wide.length > 0)
          return fail(`the allowlist holds block(s) too wide to restrict anything: ${wide.join(', ')}`, evidence);
        if (allowed.length === 0) return warn('no allowlist: the API answers every address', evidence);
        return pass(`the API answers ${allowed.length} block(s) only`, evidence);
      },
    },
  ];
}
