import { EndpointGoneError, PermanentJobError } from '../errors.ts';
import { type DeliverWebhookArgs, type DeliveryResult, noteProcessedPayload } from '../webhook-delivery.ts';
import type { JobHandler } from './registry.ts';

export type Deliver = (args: DeliverWebhookArgs) => Promise<DeliveryResult>;

/**
 * webhook.deliver: posts the processed note to the endpoint /start handed over. The job id is
 * the `webhook-id`, stable across retries, so a receiver can drop a repeat. Whether a failure is
 * worth retrying is the delivery function's call (`retryable`); retry-policy.ts acts on it.
 */
export function createWebhookDeliverHandler(deliver: Deliver): JobHandler<'webhook.deliver'> {
  return {
    kind: 'webhook.deliver',
    async handle({ job, note, webhook, config, signal, metrics }) {
      // /start always includes the endpoint for this kind; without it there is nothing to do.
      if (!webhook) throw new PermanentJobError('the API handed over no webhook endpoint');
      // The payload carries the note as the public API shows it (without its owner's id).
      const { user_id: _owner, ...publicNote } = note;
      const started = performance.now();
      try {
        const { status, excerpt } = await deliver({
          webhook,
          messageId: job.job_id,
          payload: noteProcessedPayload(publicNote),
          config,
          signal,
        });
        metrics?.webhookDuration.observe({ status_code: String(status) }, (performance.now() - started) / 1000);
        return { http: { status, excerpt: excerpt ?? '' } };
      } catch (err) {
        const status = (err as { details?: { status?: number } }).details?.status;
        metrics?.webhookDuration.observe(
          { status_code: status ? String(status) : 'error' },
          (performance.now() - started) / 1000,
        );
        // Our own shutdown cut the request short: not the endpoint's failure, no attempt spent.
        if (signal.aborted) throw new DOMException('webhook delivery interrupted by shutdown', 'AbortError');
        if ((err as { details?: { code?: string } }).details?.code === 'gone') {
          throw new EndpointGoneError(`endpoint ${webhook.id} answered 410 Gone`, { cause: err });
        }
        throw err;
      }
    },
  };
}
