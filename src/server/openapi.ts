/**
 * The OpenAPI document, generated from the routes' zod schemas (never hand-written, so it cannot
 * drift). Served at `GET /api/v1/openapi.json`; it describes shapes only and holds no data.
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

/** Register before any route, so every later route is collected. */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Strongroom API', version: '0.1.0', description: 'Self-hosted, security-first data platform.' },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: '__Host-sr_session' },
          bearer: { type: 'http', scheme: 'bearer', description: 'API token (srt_…) or operator token (sro_…)' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
}

export function registerOpenApiRoute(app: FastifyInstance): void {
  app.get(
    '/api/v1/openapi.json',
    { config: { access: { public: 'API description, no data', allowSealed: true } }, schema: { hide: true } },
    async () => app.swagger(),
  );
}
