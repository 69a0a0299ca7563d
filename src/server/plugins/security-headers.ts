/**
 * Security headers on every HTTPS response — success, error, 404 and redirect alike — set in an
 * onRequest hook (through helmet) so that no later failure path can skip them.
 */
import type { FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';

import { HSTS_VALUE } from '../../installation/tls.ts';

export { HSTS_VALUE };

/** The console lives under this policy: no inline script or style, no third-party origin. */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  // No data: URLs: the console's images are files under /assets (Vite inlining is off) and the
  // MFA QR code is drawn on a canvas.
  imgSrc: ["'self'"],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  upgradeInsecureRequests: [],
};

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    strictTransportSecurity: { maxAge: 63072000, includeSubDomains: true, preload: false },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
  });
}
