/**
 * Small error classes that decide a delivery's fate (retry-policy.ts maps them). Anything else a
 * handler throws is an ordinary failure: retried with back-off, dead-lettered after the last attempt.
 */

/** The job can never succeed (a webhook answering 410, an SSRF refusal): dead-letter it now. */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** The webhook endpoint answered `410 Gone`: dead-letter the delivery, and the API disables the endpoint. */
export class EndpointGoneError extends PermanentJobError {
  override name = 'EndpointGoneError';
}

/**
 * The API did not answer usefully (down, timing out, 5xx, circuit open, our token refused). Not
 * the job's fault: the message goes back to the queue after a pause without spending an attempt.
 */
export class ApiUnavailableError extends Error {
  override name = 'ApiUnavailableError';
}

/** The API refused the callback as invalid (a 4xx other than auth): retrying the same call cannot help. */
export class ApiRejectedError extends Error {
  override name = 'ApiRejectedError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A publish was not confirmed: nacked, returned as unroutable, timed out, or its channel closed. */
export class PublishError extends Error {
  override name = 'PublishError';
}

/** The delivery's channel is gone (or we are shutting down): its tag is void, the broker redelivers it. */
export class ChannelGoneError extends Error {
  override name = 'ChannelGoneError';
}

/** Whatever was thrown, as an Error (handlers may throw strings or plain objects). */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  if (typeof err === 'string') return new Error(err);
  try {
    return new Error(JSON.stringify(err));
  } catch {
    return new Error(String(err));
  }
}

/** An error as one line for last_error / the DLQ reason, bounded so it fits the API's limit. */
export function describeError(err: unknown, max = 1000): string {
  const e = coerceError(err);
  const text = e.message ? `${e.name}: ${e.message}` : e.name;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
