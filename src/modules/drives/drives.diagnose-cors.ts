/**
 * The CORS step of a drive test. The console uploads through Strongroom, so a bucket's CORS rules
 * matter only when browsers upload straight to the bucket (direct uploads): until then the step
 * is informational (`skip`) and says what the rules allow. The origin checked is the console's
 * public origin (STRONGROOM_PUBLIC_URL), never a guess such as `https://localhost:<port>`.
 */
import type { StoreFacts } from '../../adapters/blob/driver.ts';
import type { DriveKindName } from '../../contracts/drives.ts';

export interface CorsStep {
  status: 'pass' | 'warn' | 'skip';
  reason: string;
  hint?: string;
  /** The provider-format rules to paste (direct uploads only). */
  suggestion?: unknown;
}

export function corsStep(
  kind: DriveKindName,
  facts: StoreFacts,
  origin: string | undefined,
  directUploads: boolean,
): CorsStep {
  if (kind === 'local') return { status: 'skip', reason: 'browser uploads to a local drive go through Strongroom' };
  const info = 'informational: the console uploads through Strongroom, not straight to the bucket';
  if (!directUploads) {
    if (facts.cors === undefined) return { status: 'skip', reason: `${info}; the CORS rules could not be read` };
    if (origin === undefined)
      return { status: 'skip', reason: `${info}; no public URL is set to compare the rules with` };
    const allowed = facts.cors.some((r) => r.origins.includes('*') || r.origins.includes(origin));
    return { status: 'skip', reason: `${info}; the rules ${allowed ? 'allow' : 'do not allow'} ${origin}` };
  }
  if (origin === undefined)
    return {
      status: 'warn',
      reason: 'the console origin is unknown',
      hint: 'Set STRONGROOM_PUBLIC_URL to the address people open the console at, then test again.',
    };
  if (facts.cors === undefined)
    return {
      status: 'warn',
      reason: 'the CORS rules could not be read with these credentials',
      hint: `Browser uploads straight to the bucket need a CORS rule allowing ${origin}.`,
    };
  if (facts.cors.some((r) => r.origins.includes('*') || r.origins.includes(origin)))
    return { status: 'pass', reason: `${origin} is allowed` };
  return {
    status: 'warn',
    reason: `no CORS rule allows ${origin}`,
    hint: "Browser uploads straight to the bucket need it: add the CORS rule shown below in the bucket's settings in the provider console.",
    suggestion: corsRulesFor(kind, origin),
  };
}

/** The CORS configuration to paste, in each provider's own format. */
export function corsRulesFor(kind: DriveKindName, origin: string): unknown {
  if (kind === 's3')
    return {
      CORSRules: [
        {
          AllowedOrigins: [origin],
          AllowedMethods: ['GET', 'PUT', 'POST', 'HEAD'],
          AllowedHeaders: ['*'],
          ExposeHeaders: ['ETag'],
          MaxAgeSeconds: 3600,
        },
      ],
    };
  if (kind === 'azure')
    return [
      {
        allowedOrigins: origin,
        allowedMethods: 'GET,PUT,POST,HEAD',
        allowedHeaders: '*',
        exposedHeaders: 'ETag',
        maxAgeInSeconds: 3600,
      },
    ];
  return [
    {
      origin: [origin],
      method: ['GET', 'PUT', 'POST', 'HEAD'],
      responseHeader: ['Content-Type', 'ETag', 'x-goog-resumable'],
      maxAgeSeconds: 3600,
    },
  ];
}
