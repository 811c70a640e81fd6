import { writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { loadPreparedMedia, prepareMedia } from '../bench/load/media.js';
import { formatLoadReport, type LoadReport, runScenario } from '../bench/load/run-scenarios.js';
import { loadScenarios, SCENARIO_NAMES, type Scale, type ScenarioName } from '../bench/load/scenarios.js';

/** `eri load …`: the k6 scenarios of load-tests/, run by Node (same parameters and thresholds). */

export function registerLoadCommands(program: Command): void {
  const load = program
    .command('load')
    .description(
      'load scenarios of load-tests/ (k6) run by Node: subscribers, publishers, signalling, history',
    );

  load
    .command('prepare')
    .description(
      "turn a clip into the publishers' media: 10 Hz JPEG frames + 16 kHz PCM (for k6 and eri load)",
    )
    .argument('<clip>', 'a video with a face (and sound)')
    .requiredOption('--out <dir>', 'folder to write frames/, audio.pcm and media.json to')
    .action(async (clip: string, o: { out: string }) => {
      await prepareMedia(clip, o.out);
      console.log(`prepared ${o.out} from ${clip}`);
    });

  load
    .command('run')
    .description('run scenarios against a running server; exits 1 when a threshold fails')
    .addOption(new Option('--scenario <name>', 'scenario').choices([...SCENARIO_NAMES, 'all']).default('all'))
    .option('--url <url>', 'server base URL', 'http://127.0.0.1:8080')
    .addOption(
      new Option('--scale <scale>', 'parameters from scenarios.json')
        .choices(['small', 'full'])
        .default('small'),
    )
    .requiredOption('--media <dir>', 'media made by eri load prepare')
    .option('--json <file>', 'also write the reports as JSON')
    .action(
      async (o: {
        scenario: ScenarioName | 'all';
        url: string;
        scale: Scale;
        media: string;
        json?: string;
      }) => {
        const scenarios = await loadScenarios();
        const media = await loadPreparedMedia(o.media);
        const reports: LoadReport[] = [];
        for (const name of o.scenario === 'all' ? SCENARIO_NAMES : [o.scenario]) {
          const r = await runScenario(name, o.url, scenarios, o.scale, media);
          console.log(formatLoadReport(r));
          reports.push(r);
        }
        if (o.json) await writeFile(o.json, `${JSON.stringify(reports, null, 2)}\n`);
        if (reports.some((r) => !r.passed)) process.exitCode = 1;
      },
    );
}
