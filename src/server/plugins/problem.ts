/**
 * One error handler for the whole API: every failure leaves as RFC 9457 problem+json from the
 * `AppError` table. Framework errors are translated by their code, never by message text.
 * Unknown errors become a bare 500 with the request id; their details go only to the log.
 */
import { STATUS_CODES } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, toProblem, type ErrorCode } from '../../core/errors.ts';
import { HSTS_VALUE } from './security-headers.ts';
import { METHOD_UNKNOWN, methodBeingRead } from './connection-reads.ts';

/** The router's limit on one path parameter (Fastify `maxParamLength`). */
export const MAX_PARAM_LENGTH = 200;

/**
 * The answer for a path no route took. A segment past the parameter limit is a 414 whichever
 * route did (or did not) catch it: the router skips a route whose parameter is too long and may
 * then fall through to the console's page fallback, which must not turn it into a 404.
 */
export function noRouteError(url: string): AppError {
  const pathPart = url.split('?', 1)[0] ?? '';
  if (pathPart.split('/').some((segment) => segment.length > MAX_PARAM_LENGTH)) return new AppError('URI_TOO_LONG');
  return new AppError('NOT_FOUND', { detail: 'No such route.' });
}

const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_MAX_PARAM_LENGTH: 'URI_TOO_LONG',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

/** Translate anything thrown into an AppError (unknown errors become INTERNAL). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issues = err.validation.map((v) => ({
      location: err.validationContext ?? 'body',
      path: v.instancePath || '/',
      message: v.message ?? 'invalid',
    }));
    return new AppError('VALIDATION_FAILED', { detail: 'One or more fields are invalid.', meta: { issues } });
  }
  const fe = err as Partial<FastifyError> & { type?: string };
  const mapped = fe.code ? FRAMEWORK_CODES[fe.code] : undefined;
  if (mapped) return new AppError(mapped, { cause: err });
  // Errors of the JSON parser used for request bodies.
  if (err instanceof SyntaxError && fe.statusCode === 400) return new AppError('MALFORMED_JSON', { cause: err });
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const byStatus: Record<number, ErrorCode> = {
      401: 'UNAUTHENTICATED',
      403: 'FORBIDDEN',
      404: 'NOT_FOUND',
      405: 'METHOD_NOT_ALLOWED',
      409: 'CONFLICT',
      413: 'BODY_TOO_LARGE',
      415: 'UNSUPPORTED_MEDIA_TYPE',
      429: 'RATE_LIMITED',
    };
    return new AppError(byStatus[fe.statusCode] ?? 'BAD_REQUEST', { cause: err });
  }
  return new AppError('INTERNAL', { cause: err });
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: AppError): FastifyReply {
  return reply
    .code(err.status)
    .type('application/problem+json; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(toProblem(err, request.id));
}

export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500) {
      request.log.error(
        { err: appErr.code === 'INTERNAL' ? err : (appErr.cause ?? appErr), code: appErr.code },
        'request failed',
      );
    } else {
      request.log.info({ code: appErr.code }, 'request rejected');
    }
    return sendProblem(reply, request, appErr);
  });
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, noRouteError(request.url)));
}

/**
 * Fastify's `frameworkErrors`: the router refuses a path before any hook runs (an escape that is
 * not valid percent-encoding, a parameter past the length limit). Its answer is still a problem
 * (the path is not echoed back), with the headers the hooks would have set.
 */
export function sendFrameworkErrorProblem(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ code: err.code }, 'request rejected by the router');
  reply
    .header('x-request-id', request.id)
    .header('strict-transport-security', HSTS_VALUE)
    .header('x-content-type-options', 'nosniff');
  void sendProblem(reply, request, toAppError(err));
}

/**
 * Fastify's `clientErrorHandler`: a request the HTTP parser refuses (a content length that is not
 * a number, bytes after the declared body, headers past the limit, a request that never finished)
 * reaches no route, but its answer is still a problem, and the connection is closed after it.
 */
export function sendClientErrorProblem(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // The refused bytes follow a request whose answer is still being made (a content length
  // shorter than the body, a body sent with HEAD or GET): that answer goes out first and whole,
  // and is the last — no second answer, the connection closes after it. A malformed request on
  // an idle kept-alive connection is answered below like any other.
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight && !inFlight.writableEnded) {
    inFlight.shouldKeepAlive = false;
    inFlight.once('close', () => socket.destroy());
    return;
  }
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  const problem = new AppError(code);
  const body = JSON.stringify(toProblem(problem));
  // The method of the refused request, even when its head spans chunks and only the last one is
  // at hand (headers too large); unknown for a head that starts mid-chunk, which may be a HEAD:
  // that answer has no body at all (its length says so), whatever the method was.
  const method = methodBeingRead(socket, (err as { rawPacket?: unknown }).rawPacket);
  const head = method === 'HEAD';
  const unknown = method === METHOD_UNKNOWN;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? 'Error'}\r\n` +
        (unknown
          ? 'content-length: 0\r\n'
          : 'content-type: application/problem+json; charset=utf-8\r\n' +
            `content-length: ${Buffer.byteLength(body)}\r\n`) +
        'cache-control: no-store\r\n' +
        `strict-transport-security: ${HSTS_VALUE}\r\n` +
        'x-content-type-options: nosniff\r\n' +
        // An answer to HEAD has no body (the client would read one as data after the answer).
        `connection: close\r\n\r\n${head || unknown ? '' : body}`,
    );
  }
  socket.destroy(err);
}
