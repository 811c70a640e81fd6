import { readFileSync } from 'node:fs';

/** This server's version, from the package.json beside src/ (one place, for the CLI and eri_build_info). */
export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
