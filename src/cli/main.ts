#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isEriError } from '../errors.js';
import { PACKAGE_VERSION } from '../util/package-version.js';
import { registerAnalyze } from './analyze.js';
import { registerBenchCommands } from './bench-commands.js';
import { registerDatasetCommands } from './dataset-commands.js';
import { registerFuzz } from './fuzz-command.js';
import { registerLoadCommands } from './load-commands.js';
import { registerModelCommands } from './model-commands.js';
import { registerPredictFeatures } from './predict-features.js';
import { registerPublish } from './publish.js';
import { registerServe } from './serve.js';
import { registerStudyCommands } from './study-commands.js';
import { registerToken } from './token.js';

/** The `eri` command line. Every failure prints `eri: error [CODE]: message` and exits non-zero. */

export function buildProgram(): Command {
  const program = new Command('eri')
    .description('eri-stream: real-time Emotional Reaction Intensity estimates (ABAW5 model)')
    .version(PACKAGE_VERSION)
    .showHelpAfterError()
    .exitOverride();
  registerModelCommands(program);
  registerPredictFeatures(program);
  registerAnalyze(program);
  registerServe(program);
  registerStudyCommands(program);
  registerToken(program);
  registerPublish(program);
  registerDatasetCommands(program);
  registerFuzz(program);
  registerLoadCommands(program);
  registerBenchCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    // A command that completed but failed its check (fuzz, load run) sets the exit code itself.
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander already printed help/version or the usage error.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isEriError(error)) {
      console.error(`eri: error [${error.code}]: ${error.message}`);
      return error.code === 'ERI_ERR_INVALID_ARGUMENT' ? 2 : 1;
    }
    console.error(`eri: unexpected error: ${(error as Error).stack ?? String(error)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv);
