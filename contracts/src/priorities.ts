/**
 * The five job priorities, lowest first. RabbitMQ serves higher numbers first from a classic
 * queue declared with `x-max-priority: 5` (docs/guarantees.md).
 */
export const PRIORITIES = ['low', 'normal', 'high', 'critical', 'max'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const DEFAULT_PRIORITY: Priority = 'normal';

/** AMQP priority for each level: low = 1 … max = 5 (0 is what an unprioritised publish gets). */
export function amqpPriority(priority: Priority): number {
  return PRIORITIES.indexOf(priority) + 1;
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && (PRIORITIES as readonly string[]).includes(value);
}
