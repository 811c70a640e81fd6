import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { z } from 'zod';
import { EriError, zodIssueText } from '../errors.js';

/**
 * The server's one log: JSON lines through pino (the logger Fastify itself uses), each with its level,
 * the node, and where it applies the request id (Fastify's `reqId`), the session and the room; or, for a
 * person at a terminal, the same records pretty-printed (LOG_FORMAT=pretty, or stderr is a TTY).
 * Modules get a `Log` function, not the logger, so none of them depends on pino.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogContext {
  level?: LogLevel;
  sessionId?: string;
  roomId?: string;
  /** More fields of the record (a session's counters, an error's code). */
  details?: Record<string, unknown>;
}

export type Log = (message: string, context?: LogContext) => void;

const logSettingsSchema = z.object({
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
});

/** LOG_FORMAT and LOG_LEVEL from the environment; a value that is neither says so, typed. */
export function logSettings(env: Record<string, string | undefined>): z.infer<typeof logSettingsSchema> {
  const parsed = logSettingsSchema.safeParse(env);
  if (!parsed.success)
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `invalid setting ${zodIssueText(parsed.error)}`);
  return parsed.data;
}

export interface LoggerOptions {
  nodeId: string;
  level?: LogLevel;
  format?: 'json' | 'pretty';
  /** Where lines go (default: stderr). */
  destination?: NodeJS.WritableStream;
}

export function createLogger(o: LoggerOptions): Logger {
  const destination = o.destination ?? process.stderr;
  const format = o.format ?? ((destination as { isTTY?: boolean }).isTTY ? 'pretty' : 'json');
  // Levels by name ("level":"warn"), which people and log pipelines read without pino's number table.
  const options = {
    level: o.level ?? 'info',
    base: { node: o.nodeId },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'pretty')
    return pino(options, pretty({ destination, sync: true, ignore: 'pid,hostname', colorize: false }));
  return pino(options, destination as pino.DestinationStream);
}

/** A logger that keeps nothing (library use, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The `Log` function over a logger: a message with its session and room as fields. */
export function logTo(logger: Logger): Log {
  return (message, context = {}) => {
    const fields = {
      ...context.details,
      ...(context.sessionId ? { session: context.sessionId } : {}),
      ...(context.roomId ? { room: context.roomId } : {}),
    };
    logger[context.level ?? 'info'](fields, message);
  };
}

/** A logger that hands each record, parsed, to `onRecord` (tests). */
export function memoryLogger(onRecord: (record: Record<string, unknown>) => void, nodeId = 'test'): Logger {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) onRecord(JSON.parse(line));
      done();
    },
  });
  return createLogger({ nodeId, level: 'debug', format: 'json', destination: sink });
}
