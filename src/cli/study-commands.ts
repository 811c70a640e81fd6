import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { EriError } from '../errors.js';
import { positiveNumber } from './options.js';

/** `eri study …`: register a study, upload its stimulus, export its results, against a running server. */

interface Target {
  server: string;
  token?: string;
}

async function call(t: Target, path: string, init: RequestInit = {}): Promise<Response> {
  const token = t.token ?? process.env.ERI_TOKEN;
  const r = await fetch(`${t.server.replace(/\/$/, '')}${path}`, {
    ...init,
    headers: {
      ...(init.headers as Record<string, string>),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
  }).catch((cause: Error) => {
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `cannot reach ${t.server}: ${cause.message}`, { cause });
  });
  if (!r.ok) {
    const body = (await r.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new EriError(
      body.code === 'ERI_ERR_NOT_FOUND' ||
        body.code === 'ERI_ERR_FORBIDDEN' ||
        body.code === 'ERI_ERR_UNAUTHENTICATED'
        ? body.code
        : 'ERI_ERR_INVALID_ARGUMENT',
      `${path}: HTTP ${r.status}: ${body.message ?? r.statusText}`,
    );
  }
  return r;
}

const VIDEO_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.mov': 'video/quicktime',
};

/** Renders an SVG to PNG with the Debian Chromium the project already uses for its browser tests. */
async function svgToPng(svg: string, png: string): Promise<boolean> {
  const chromium = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find(existsSync);
  if (!chromium) return false;
  const size = /width="(\d+)" height="(\d+)"/.exec(await readFile(svg, 'utf8'));
  await promisify(execFile)(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      `--screenshot=${png}`,
      `--window-size=${size?.[1] ?? 1100},${size?.[2] ?? 900}`,
      `file://${resolve(svg)}`,
    ],
    { timeout: 60_000 },
  );
  return existsSync(png);
}

export function registerStudyCommands(program: Command): void {
  const study = program
    .command('study')
    .description('reaction studies on a running server (the admin scope)');
  const common = (c: Command) =>
    c
      .option('--server <url>', 'the server', 'http://127.0.0.1:8080')
      .option('--token <jwt>', 'a token (default: $ERI_TOKEN)');

  common(
    study
      .command('create')
      .description('register a study; prints its id and the viewer link of each room')
      .requiredOption('--name <name>', 'what viewers see')
      .option('--rooms <ids>', 'comma-separated rooms viewers join', 'study')
      .option('--stimulus <file>', 'a video to upload as the stimulus')
      .option('--stimulus-url <url>', 'or a stimulus served elsewhere')
      .option('--window <seconds>', 'media seconds each estimate covers', positiveNumber, 5),
  ).action(
    async (
      o: Target & { name: string; rooms: string; stimulus?: string; stimulusUrl?: string; window: number },
    ) => {
      const created = await call(o, '/v1/studies', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: o.name,
          rooms: o.rooms
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean),
          windowSeconds: o.window,
          ...(o.stimulusUrl ? { stimulusUrl: o.stimulusUrl } : {}),
        }),
      });
      let body = (await created.json()) as { study: { id: string }; viewerLinks: Record<string, string> };
      if (o.stimulus) {
        const type = VIDEO_TYPES[extname(o.stimulus).toLowerCase()] ?? 'video/mp4';
        const up = await call(o, `/v1/studies/${body.study.id}/stimulus`, {
          method: 'PUT',
          headers: { 'content-type': type },
          body: await readFile(o.stimulus),
        });
        body = (await up.json()) as typeof body;
      }
      console.log(`study ${body.study.id}`);
      for (const [room, link] of Object.entries(body.viewerLinks))
        console.log(`  viewers in ${room}: ${link}`);
      console.log(`  results: ${o.server.replace(/\/$/, '')}/study?study=${body.study.id}`);
    },
  );

  common(
    study
      .command('export')
      .description(
        "a study's results: CSV (viewer x stimulus second x emotion), the timeline JSON, a one-page report (SVG and PNG)",
      )
      .argument('<study>', 'study id')
      .requiredOption('--out <dir>', 'folder to write to'),
  ).action(async (id: string, o: Target & { out: string }) => {
    await mkdir(o.out, { recursive: true });
    const csv = await (await call(o, `/v1/studies/${id}/timeline?format=csv`)).text();
    const json = await (await call(o, `/v1/studies/${id}/timeline`)).text();
    const svg = await (await call(o, `/v1/studies/${id}/report.svg`)).text();
    await writeFile(join(o.out, `${id}.csv`), csv);
    await writeFile(join(o.out, `${id}.json`), json);
    await writeFile(join(o.out, `${id}-report.svg`), svg);
    const png = await svgToPng(join(o.out, `${id}-report.svg`), join(o.out, `${id}-report.png`)).then(
      (made) => (made ? `, ${id}-report.png` : ' (no PNG: chromium not found; the SVG is the report)'),
      (error: Error) => ` (no PNG: chromium failed: ${error.message.split('\n')[0]}; the SVG is the report)`,
    );
    console.log(`wrote ${id}.csv, ${id}.json, ${id}-report.svg${png} to ${o.out}`);
  });
}
