import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { EMOTIONS } from '../contracts/emotions.js';
import { EriError } from '../errors.js';

/**
 * A Hume-Reaction-style dataset: `data_info.csv` (File_ID, Split, one column per emotion; the test split
 * leaves the emotions empty) beside the videos, named `<File_ID>.<ext>` anywhere under the dataset folder.
 */

export const DATA_INFO_FILE = 'data_info.csv';
const MEDIA_EXTENSIONS = new Set(['.mp4', '.webm', '.mkv', '.mov', '.avi', '.m4v']);

export interface DatasetClip {
  id: string;
  split: string;
  /** The 7 intensities in EMOTIONS order, or null where the split has no labels. */
  labels: number[] | null;
  /** Path relative to the dataset folder, or null when no video with that id exists. */
  source: string | null;
}

/** The header spelling of each emotion: Hume writes `Empathic-Pain`; `Empathic Pain` is accepted too. */
function columnOf(header: readonly string[], emotion: string): string | undefined {
  const key = (s: string) => s.toLowerCase().replace(/[\s_-]+/g, '');
  return header.find((h) => key(h) === key(emotion));
}

const intensity = z
  .string()
  .trim()
  .transform((s, ctx) => {
    if (s === '') return null;
    const n = Number(s);
    if (!Number.isFinite(n) || n < 0 || n > 1) {
      ctx.addIssue({ code: 'custom', message: `'${s}' is not an intensity in [0, 1]` });
      return z.NEVER;
    }
    return n;
  });

/** Hume-Reaction writes ids like `00001`; some copies wrap them in brackets. */
function normaliseId(id: string): string {
  return id.trim().replace(/^\[(.*)\]$/, '$1');
}

async function mediaFiles(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    // Symbolic links count: datasets are often linked in rather than copied.
    if (!(e.isFile() || e.isSymbolicLink()) || !MEDIA_EXTENSIONS.has(extname(e.name).toLowerCase())) continue;
    const id = e.name.slice(0, -extname(e.name).length);
    // Dirent.parentPath is Node >= 20.12; 20.11 (the engines floor) calls it `path`.
    const dir = e.parentPath ?? (e as unknown as { path: string }).path;
    const path = relative(root, join(dir, e.name));
    const seen = out.get(id);
    // Two files with one id: keep the first in sorted order, so the choice never depends on readdir.
    if (seen === undefined || path < seen) out.set(id, path);
  }
  return out;
}

export async function readDataset(root: string): Promise<DatasetClip[]> {
  const infoPath = join(root, DATA_INFO_FILE);
  let text: string;
  try {
    text = await readFile(infoPath, 'utf8');
  } catch (cause) {
    throw new EriError(
      'ERI_ERR_DATASET',
      `${root} is not a Hume-Reaction-style dataset: cannot read ${DATA_INFO_FILE} (${(cause as Error).message})`,
      { cause },
    );
  }
  let table: string[][];
  try {
    table = parse(text, { skip_empty_lines: true, trim: true, bom: true, relax_column_count: true });
  } catch (cause) {
    throw new EriError('ERI_ERR_DATASET', `${infoPath}: ${(cause as Error).message}`, { cause });
  }
  const header = table[0] ?? [];
  const rows = table.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  const missing = ['File_ID', 'Split', ...EMOTIONS].filter((c) => !columnOf(header, c));
  if (missing.length > 0) {
    throw new EriError(
      'ERI_ERR_DATASET',
      `${infoPath}: missing column(s) ${missing.join(', ')} (has: ${header.join(', ') || 'nothing: the file is empty'})`,
    );
  }
  const idColumn = columnOf(header, 'File_ID') as string;
  const splitColumn = columnOf(header, 'Split') as string;
  const emotionColumns = EMOTIONS.map((e) => columnOf(header, e) as string);
  const files = await mediaFiles(root);
  const seen = new Set<string>();
  return rows.map((row, i) => {
    const line = i + 2;
    const id = normaliseId(row[idColumn] ?? '');
    if (!/^[A-Za-z0-9._-]+$/.test(id)) {
      throw new EriError(
        'ERI_ERR_DATASET',
        `${infoPath} line ${line}: File_ID '${id}' is not a plain file name`,
      );
    }
    if (seen.has(id))
      throw new EriError('ERI_ERR_DATASET', `${infoPath} line ${line}: File_ID ${id} repeats`);
    seen.add(id);
    const values = emotionColumns.map((c) => {
      const parsed = intensity.safeParse(row[c] ?? '');
      if (!parsed.success) {
        throw new EriError(
          'ERI_ERR_DATASET',
          `${infoPath} line ${line}, ${c}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
        );
      }
      return parsed.data;
    });
    const labelled = values.filter((v) => v !== null).length;
    if (labelled !== 0 && labelled !== values.length) {
      throw new EriError('ERI_ERR_DATASET', `${infoPath} line ${line}: some emotions are empty, some not`);
    }
    return {
      id,
      split: (row[splitColumn] ?? '').trim(),
      labels: labelled === 0 ? null : (values as number[]),
      source: files.get(id) ?? null,
    };
  });
}
