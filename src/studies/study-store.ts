import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Study, StudyCreate } from '../contracts/study.js';
import { EriError } from '../errors.js';
import { probeDuration } from './probe.js';
import type { StudyCatalog } from './study-catalog.js';

/**
 * Studies: their metadata in a catalog (this node's disk, or Redis for every node) and their stimulus
 * files under `<dataDir>/studies/<id>/stimulus`. With several nodes that folder must be storage every
 * node reads (a shared volume; ReadWriteMany in Kubernetes): a node that cannot see a stimulus says so.
 * The stimulus is the operator's content, not a viewer's media: no camera or microphone data is ever
 * stored here.
 */

const MAX_STIMULUS_BYTES = 2 * 1024 ** 3;

export class StudyStore {
  readonly #dir: string;
  readonly #catalog: StudyCatalog;

  constructor(dataDir: string, catalog: StudyCatalog) {
    this.#dir = join(dataDir, 'studies');
    this.#catalog = catalog;
  }

  async list(): Promise<Study[]> {
    return (await this.#catalog.list()).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  get(id: string): Promise<Study | undefined> {
    return this.#catalog.get(id);
  }

  /** The study or ERI_ERR_NOT_FOUND. */
  async require(id: string): Promise<Study> {
    const study = await this.#catalog.get(id);
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
    await this.#catalog.save(study);
    return study;
  }

  stimulusPath(id: string): string {
    return join(this.#dir, id, 'stimulus');
  }

  /** Stores an uploaded stimulus video (streamed to disk, size-capped) and reads its duration. */
  async putStimulus(id: string, body: Readable, contentType: string): Promise<Study> {
    const study = await this.require(id);
    if (!/^video\//.test(contentType)) {
      throw new EriError(
        'ERI_ERR_INVALID_ARGUMENT',
        `the stimulus must be a video (Content-Type video/*), not ${contentType.slice(0, 60)}`,
      );
    }
    const path = this.stimulusPath(id);
    // Unique per upload: two nodes sharing the folder never write one partial file together.
    const tmp = `${path}.${randomUUID().slice(0, 8)}.partial`;
    await mkdir(join(this.#dir, id), { recursive: true });
    // Counting bytes puts the body in flowing mode: the pipeline must take it in this same tick.
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_STIMULUS_BYTES)
        body.destroy(new EriError('ERI_ERR_PAYLOAD_TOO_LARGE', 'the stimulus is larger than 2 GiB'));
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
      await this.#catalog.save(updated);
      return updated;
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /** The uploaded stimulus; ERI_ERR_NOT_FOUND, naming the cause, when this node cannot see the file. */
  async openStimulus(id: string, range?: { start: number; end: number }): Promise<Readable> {
    const path = this.stimulusPath(id);
    try {
      await access(path);
    } catch {
      throw new EriError(
        'ERI_ERR_NOT_FOUND',
        `study ${id.slice(0, 64)}: its stimulus file is not in this node's ERI_DATA_DIR; nodes serving studies must share that folder`,
      );
    }
    return createReadStream(path, range);
  }

  async delete(id: string): Promise<boolean> {
    if (!(await this.#catalog.delete(id))) return false;
    await rm(join(this.#dir, id), { recursive: true, force: true });
    return true;
  }
}
