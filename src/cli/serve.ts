import type { Command } from 'commander';
import { loadServerConfig, nodeIdOf } from '../server/config.js';
import { createLogger, logSettings, logTo } from '../server/logger.js';
import { EriServer } from '../server/server.js';
import { defaultModelDir } from './default-model.js';
import { positiveInt } from './options.js';

/** `eri serve`: the live server on the embedded default (in-memory, nothing else running). */

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the live server: WebRTC ingest, the frame ingest, the publisher page')
    .option('--host <host>', 'HTTP listen address (ERI_HOST)')
    .option('--port <port>', 'HTTP port, 0 for any (ERI_PORT)', (v) => Number(v))
    .option('--model <dir>', 'model package (ERI_MODEL; default: the shipped starter model)')
    .option('--rtc-ip <ip>', 'address mediasoup listens on for media (ERI_RTC_LISTEN_IP)')
    .option(
      '--announced-address <address>',
      'public address for ICE candidates behind NAT (ERI_RTC_ANNOUNCED_ADDRESS)',
    )
    .option('--max-sessions <n>', 'sessions this server admits (ERI_MAX_SESSIONS)', positiveInt)
    .option(
      '--insecure-dev',
      'no authentication: anyone who reaches the port may publish and read everything (ERI_INSECURE_DEV; refused when NODE_ENV=production)',
    )
    .addHelpText(
      'after',
      '\nEvery setting can also come from the environment (names in brackets); see docs/configuration.md.',
    )
    .action(
      async (o: {
        host?: string;
        port?: number;
        model?: string;
        rtcIp?: string;
        announcedAddress?: string;
        maxSessions?: number;
        insecureDev?: boolean;
      }) => {
        const config = loadServerConfig(process.env, {
          host: o.host,
          port: o.port,
          modelDir: o.model,
          'rtc.listenIp': o.rtcIp,
          'rtc.announcedAddress': o.announcedAddress,
          maxSessions: o.maxSessions,
          insecureDev: o.insecureDev,
        });
        const settings = logSettings(process.env);
        const logger = createLogger({
          nodeId: nodeIdOf(config),
          level: settings.LOG_LEVEL,
          ...(settings.LOG_FORMAT ? { format: settings.LOG_FORMAT } : {}),
        });
        const log = logTo(logger);
        const server = await EriServer.create(config, config.modelDir ?? defaultModelDir(), logger);
        const url = await server.listen();
        if (config.insecureDev) {
          log(
            '** INSECURE DEV MODE: no authentication. Anyone who can reach this port can publish and read every estimate. **',
            { level: 'warn' },
          );
          log(
            '** For anything but local use set ERI_JWT_SECRET (or ERI_JWT_PUBLIC_KEY) and mint tokens with `eri token`. **',
            { level: 'warn' },
          );
        }
        const card = server.model.card;
        log(
          `eri-stream listening on ${url} (publisher page: ${url}/publish; signalling ws ${url.replace('http', 'ws')}/v1/signal; frame ingest /v1/ingest)`,
        );
        log(
          `model ${card.name}@${card.version}${card.trained ? '' : ' ** UNTRAINED: random weights, estimates mean nothing **'}`,
          card.trained ? {} : { level: 'warn' },
        );
        const stop = (signal: string) => {
          log(`${signal}: shutting down gracefully (within ${config.shutdownDeadlineMs} ms)`);
          // Whatever happens, the process is gone shortly after the deadline.
          setTimeout(() => {
            log('shutdown deadline passed: exiting now', { level: 'error' });
            process.exit(1);
          }, config.shutdownDeadlineMs + 1000).unref();
          server.shutdown().then(
            () => {
              log('shut down');
              process.exit(0);
            },
            (error: Error) => {
              log(`shutdown failed: ${error.message}`, { level: 'error' });
              process.exit(1);
            },
          );
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      },
    );
}
