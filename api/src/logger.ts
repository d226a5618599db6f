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
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
