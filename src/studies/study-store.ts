import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Study, type StudyCreate, studySchema } from '../contracts/study.js';
import { EriError } from '../errors.js';
import { probeDuration } from './probe.js';

/**
 * Studies and their stimulus files, under `<dataDir>/studies/<id>/` (study.json, stimulus), loaded at
 * start so studies outlive restarts. The stimulus is the operator's content, not a viewer's media: no
 * camera or microphone data is ever stored here.
 */

const MAX_STIMULUS_BYTES = 2 * 1024 ** 3;

export class StudyStore {
  readonly #dir: string;
  readonly #studies = new Map<string, Study>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** `onLog` hears of every study folder that could not be read (it is skipped, not fatal). */
  static async open(dataDir: string, onLog: (line: string) => void = () => {}): Promise<StudyStore> {
    const store = new StudyStore(join(dataDir, 'studies'));
    await mkdir(store.#dir, { recursive: true });
    for (const id of await readdir(store.#dir)) {
      try {
        const study = studySchema.parse(
          JSON.parse(await readFile(join(store.#dir, id, 'study.json'), 'utf8')),
        );
        store.#studies.set(study.id, study);
      } catch (error) {
        // A half-written study (crash between mkdir and write) is skipped, not fatal; but said.
        onLog(`study ${id} skipped: ${join(store.#dir, id, 'study.json')}: ${(error as Error).message}`);
      }
    }
    return store;
  }

  list(): Study[] {
    return [...this.#studies.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  get(id: string): Study | undefined {
    return this.#studies.get(id);
  }

  /** The study or ERI_ERR_NOT_FOUND. */
  require(id: string): Study {
    const study = this.#studies.get(id);
    if (!study) throw new EriError('ERI_ERR_NOT_FOUND', `no study ${id.slice(0, 64)}`);
    return study;
  }

  async create(spec: StudyCreate): Promise<Study> {
    const study: Study = {
      id: `st-${randomUUID().slice(0, 8)}`,
      name: spec.name,
      rooms: spec.rooms,
      stimulus: spec.stimulusUrl ? { kind: 'url', url: spec.stimulusUrl } : { kind: 'none' },
      durationS: spec.durationS ?? null,
      windowSeconds: spec.windowSeconds,
      createdAt: new Date().toISOString(),
    };
    await this.#save(study);
    return study;
  }

  stimulusPath(id: string): string {
    return join(this.#dir, id, 'stimulus');
  }

  /** Stores an uploaded stimulus video (streamed to disk, size-capped) and reads its duration. */
  async putStimulus(id: string, body: Readable, contentType: string): Promise<Study> {
    const study = this.require(id);
    if (!/^video\//.test(contentType)) {
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        `the stimulus must be a video (Content-Type video/*), not ${contentType.slice(0, 60)}`,
      );
    }
    const path = this.stimulusPath(id);
    const tmp = `${path}.partial`;
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_STIMULUS_BYTES)
        body.destroy(new EriError('ERI_ERR_LIMIT', 'the stimulus is larger than 2 GiB'));
    });
    try {
      await pipeline(body, createWriteStream(tmp));
      const durationS = await probeDuration(tmp);
      await rename(tmp, path);
      const updated: Study = {
        ...study,
        stimulus: { kind: 'file', contentType, bytes: (await stat(path)).size },
        durationS: study.durationS ?? durationS,
      };
      await this.#save(updated);
      return updated;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  openStimulus(id: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.stimulusPath(id), range);
  }

  async delete(id: string): Promise<boolean> {
    if (!this.#studies.delete(id)) return false;
    await rm(join(this.#dir, id), { recursive: true, force: true });
    return true;
  }

  async #save(study: Study): Promise<void> {
    const dir = join(this.#dir, study.id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'study.json.partial'), `${JSON.stringify(study, null, 2)}\n`);
    await rename(join(dir, 'study.json.partial'), join(dir, 'study.json'));
    this.#studies.set(study.id, study);
  }
}
