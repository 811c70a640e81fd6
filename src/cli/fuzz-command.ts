import { type Command, InvalidArgumentError } from 'commander';
import { formatFuzzReport, runFuzz } from '../bench/fuzz.js';
import { nonNegativeInt, positiveInt } from './options.js';

/** `eri fuzz`: random and mutated inputs on every endpoint of a running server; exits 1 on a violation. */
export function registerFuzz(program: Command): void {
  program
    .command('fuzz')
    .description(
      'send random and mutated inputs to every WebSocket endpoint and REST route of a running server',
    )
    .option('--url <url>', 'server base URL', 'http://127.0.0.1:8080')
    .option('--inputs <n>', 'how many inputs, spread evenly over the four endpoints', positiveInt, 10_000)
    .option('--seed <n>', 'random seed (the same seed sends the same inputs)', nonNegativeInt, 1)
    .option('--connections <n>', 'inputs sent in parallel', positiveInt, 8)
    .option('--token <jwt>', 'a token to send with most inputs (default: $ERI_TOKEN)')
    .option(
      '--grammar <share>',
      'share of inputs valid in form with extreme values (0-1; the rest random and mutated)',
      (v: string) => {
        const share = Number(v);
        if (!(share >= 0 && share <= 1)) throw new InvalidArgumentError('a number from 0 to 1');
        return share;
      },
      0.5,
    )
    .action(
      async (o: {
        url: string;
        inputs: number;
        seed: number;
        connections: number;
        token?: string;
        grammar: number;
      }) => {
        const token = o.token ?? process.env.ERI_TOKEN;
        const report = await runFuzz({ ...o, ...(token ? { token } : {}) });
        console.log(formatFuzzReport(report));
        if (!report.serverUp || report.violations.length > 0) process.exitCode = 1;
      },
    );
}
