import { createSigner } from 'fast-jwt';

export const SERVICE_SUBJECT = 'service:consumers';

/**
 * A short-lived JWT for the `service` identity: consumers and scripts sign their own with the
 * shared JWT_SECRET and present it to the API's internal routes.
 */
export function signServiceToken(secret: string, ttlSeconds = 3600): string {
  const sign = createSigner({ key: secret, algorithm: 'HS256', expiresIn: ttlSeconds * 1000 });
  return sign({ sub: SERVICE_SUBJECT, role: 'service' });
}
