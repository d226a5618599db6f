import type { Config } from '@notes/contracts';
import pino, { type Logger } from 'pino';

/** JSON logs, the same shape as the API's; secrets are redacted wherever they appear. */
export function createLogger(config: Config, name = 'consumer'): Logger {
  return pino({
    name,
    level: config.logLevel,
    base: { service: name, pid: process.pid },
    messageKey: 'msg',
    redact: {
      paths: ['*.secret', '*.token', 'secret', 'token', 'webhook.secret', 'headers.authorization'],
      censor: '[redacted]',
    },
    formatters: { level: (label) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
