/**
 * Google JSON API errors as GCS writes them:
 * `{"error":{"code":N,"message":"…","errors":[{"domain":"global","reason":"…","message":"…"}]}}`.
 */
export class GcsHttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly extra: { headers?: Record<string, string>; locationType?: string; location?: string } = {},
  ) {
    super(message);
    this.name = 'GcsHttpError';
  }

  body(): string {
    const detail: Record<string, string> = { domain: 'global', reason: this.reason, message: this.message };
    if (this.extra.locationType) detail['locationType'] = this.extra.locationType;
    if (this.extra.location) detail['location'] = this.extra.location;
    return JSON.stringify({ error: { code: this.status, message: this.message, errors: [detail] } });
  }
}

export const badRequest = (message: string, reason = 'invalid'): GcsHttpError => new GcsHttpError(400, reason, message);

export const notFound = (message = 'Not Found'): GcsHttpError => new GcsHttpError(404, 'notFound', message);

export const preconditionFailed = (
  message = 'At least one of the pre-conditions you specified did not hold.',
): GcsHttpError => new GcsHttpError(412, 'conditionNotMet', message, { locationType: 'header', location: 'If-Match' });

/** No Authorization header: GCS treats the caller as anonymous. */
export const anonymous = (permission: string): GcsHttpError =>
  new GcsHttpError(
    401,
    'required',
    `Anonymous caller does not have ${permission} access to the Google Cloud Storage resource.`,
    {
      locationType: 'header',
      location: 'Authorization',
      headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
    },
  );

/** A token the peer does not know (wrong, expired, revoked). */
export const invalidCredentials = (): GcsHttpError =>
  new GcsHttpError(401, 'authError', 'Invalid Credentials', {
    locationType: 'header',
    location: 'Authorization',
    headers: { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' },
  });

export const forbidden = (principal: string, permission: string): GcsHttpError =>
  new GcsHttpError(
    403,
    'forbidden',
    `${principal} does not have ${permission} access to the Google Cloud Storage resource.`,
  );
