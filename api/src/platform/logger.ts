import type { Config } from '@notes/contracts';
import pino, { type Logger } from 'pino';

/** JSON logs; tokens, passwords and secrets are redacted wherever they appear. */
export function createLogger(config: Config, name: string): Logger {
  return pino({
    name,
    level: config.logLevel,
    base: { service: name },
    messageKey: 'msg',
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.password',
        '*.token',
        '*.secret',
        'password',
        'token',
        'secret',
      ],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      // SSE clients may pass their token as ?access_token=…; it must never reach a log line.
      req: (req: { method?: string; url?: string; id?: string }) => ({
        method: req.method,
        url: redactQueryTokens(req.url ?? ''),
        request_id: req.id,
      }),
      err: pino.stdSerializers.err,
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** Replaces the value of token-bearing query parameters in a URL path. */
export function redactQueryTokens(url: string): string {
  return url.replace(/([?&](?:access_token|token)=)[^&#]*/gi, '$1[redacted]');
}
