export * from './amqp-connection.ts';
export * from './config.ts';
export * from './job-message.ts';
export * from './priorities.ts';
export * from './service-token.ts';
export * from './topology.ts';
