import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RedisClientType } from 'redis';
import { type Study, studySchema } from '../contracts/study.js';
import { EriError } from '../errors.js';

/**
 * Where study metadata lives: on the node's disk (embedded default), or in Redis so every node sees
 * every study, including studies made before it started. Reads go to the catalog each time: a study
 * made or changed through another node is seen at once, not after a refresh.
 */
export interface StudyCatalog {
  list(): Promise<Study[]>;
  get(id: string): Promise<Study | undefined>;
  /** Creates or replaces; a new study past MAX_STUDIES is refused with ERI_ERR_LIMIT. */
  save(study: Study): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** Studies one deployment keeps: the list is read whole, so it is bounded. */
export const MAX_STUDIES = 10_000;

const tooMany = () =>
  new EriError('ERI_ERR_LIMIT', `at most ${MAX_STUDIES} studies: delete finished ones first`);

/** `<dir>/<id>/study.json`, loaded at open (this node is their only writer). */
export class FileStudyCatalog implements StudyCatalog {
  readonly #dir: string;
  readonly #studies = new Map<string, Study>();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** `onLog` hears of every study folder that could not be read (it is skipped, not fatal). */
  static async open(dir: string, onLog: (line: string) => void = () => {}): Promise<FileStudyCatalog> {
    const catalog = new FileStudyCatalog(dir);
    await mkdir(dir, { recursive: true });
    for (const id of await readdir(dir)) {
      const path = join(dir, id, 'study.json');
      try {
        const study = studySchema.parse(JSON.parse(await readFile(path, 'utf8')));
        catalog.#studies.set(study.id, study);
      } catch (error) {
        // A half-written study (crash between mkdir and write) is skipped, not fatal; but said.
        onLog(`study ${id} skipped: ${path}: ${(error as Error).message}`);
      }
    }
    return catalog;
  }

  async list(): Promise<Study[]> {
    return [...this.#studies.values()];
  }

  async get(id: string): Promise<Study | undefined> {
    return this.#studies.get(id);
  }

  async save(study: Study): Promise<void> {
    if (!this.#studies.has(study.id) && this.#studies.size >= MAX_STUDIES) throw tooMany();
    const dir = join(this.#dir, study.id);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'study.json.partial'), `${JSON.stringify(study, null, 2)}\n`);
    await rename(join(dir, 'study.json.partial'), join(dir, 'study.json'));
    this.#studies.set(study.id, study);
  }

  async delete(id: string): Promise<boolean> {
    if (!this.#studies.delete(id)) return false;
    await rm(join(this.#dir, id, 'study.json'), { force: true });
    return true;
  }
}

const STUDIES = 'eri:studies';

/** One Redis hash, study id -> study JSON, shared by every node. */
export class RedisStudyCatalog implements StudyCatalog {
  readonly #client: RedisClientType;
  readonly #onLog: (line: string) => void;

  constructor(client: RedisClientType, onLog: (line: string) => void = () => {}) {
    this.#client = client;
    this.#onLog = onLog;
  }

  #parse(id: string, json: string): Study | undefined {
    try {
      return studySchema.parse(JSON.parse(json));
    } catch (error) {
      this.#onLog(`study ${id} skipped: ${STUDIES} in Redis: ${(error as Error).message}`);
      return undefined;
    }
  }

  async list(): Promise<Study[]> {
    return Object.entries(await this.#client.hGetAll(STUDIES))
      .map(([id, json]) => this.#parse(id, json))
      .filter((s): s is Study => s !== undefined);
  }

  async get(id: string): Promise<Study | undefined> {
    const json = await this.#client.hGet(STUDIES, id);
    return json ? this.#parse(id, json) : undefined;
  }

  async save(study: Study): Promise<void> {
    if (!(await this.#client.hExists(STUDIES, study.id)) && (await this.#client.hLen(STUDIES)) >= MAX_STUDIES)
      throw tooMany();
    await this.#client.hSet(STUDIES, study.id, JSON.stringify(study));
  }

  async delete(id: string): Promise<boolean> {
    return (await this.#client.hDel(STUDIES, id)) > 0;
  }
}
