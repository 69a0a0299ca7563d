/**
 * Declared body kinds (`http/route.ts` `BodyKind`), enforced before a body is read: a request
 * with a body of another media type — or any body on a bodyless route — is refused with 415.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../core/errors.ts';
import { BODY_MEDIA_TYPES, type BodyKind } from '../http/route.ts';

/** media type of a request body, lower case, no parameters; undefined without a body. */
function bodyType(request: FastifyRequest): string | undefined {
  const h = request.headers;
  const hasBody =
    h['transfer-encoding'] !== undefined ||
    (h['content-length'] !== undefined && h['content-length'] !== '0') ||
    h['content-type'] !== undefined;
  if (!hasBody) return undefined;
  return String(h['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * A route's body kind, enforced before the body is parsed: another media type is refused (415),
 * so a JSON body on an upload route is never buffered and a bodyless route takes no body at all.
 */
function refuseOtherBodies(kind: BodyKind) {
  const accepted = BODY_MEDIA_TYPES[kind];
  return async (request: FastifyRequest): Promise<void> => {
    const type = bodyType(request);
    if (type === undefined || accepted.includes(type)) return;
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', {
      detail: kind === 'none' ? 'This request takes no body.' : `Send the body as ${accepted.join(' or ')}.`,
    });
  };
}

/** Fastify route options for a declared body kind: the refusal hook and the route-table entry. */
export function bodyOptions(method: string, kind: BodyKind) {
  if (!BODY_METHODS.has(method)) return { hooks: {}, config: {} };
  return { hooks: { preParsing: refuseOtherBodies(kind) }, config: { body: kind, consumes: BODY_MEDIA_TYPES[kind] } };
}
