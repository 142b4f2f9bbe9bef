import { pino, type Logger } from 'pino';

/** Structured logs on stderr; stdout carries only the ready line that scripts and tests wait for. */
export const createLogger = (level: string): Logger => pino({ level, base: { service: 'live-chat' } }, pino.destination(2));

export type { Logger };
