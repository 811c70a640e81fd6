import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { MediaStep } from '../../src/contracts/media-step.js';
import { type DecodeSummary, decodeMedia, type MediaInput } from '../../src/features/decode.js';
import { withTempDir } from '../helpers.js';
import { ffmpeg, flashAndBeep, syntheticClip } from '../media.js';

const OPTIONS = { rateHz: 10, width: 160, height: 120 };

async function decodeAll(
  input: MediaInput,
): Promise<{ steps: MediaStep[]; summary: DecodeSummary | undefined }> {
  const steps: MediaStep[] = [];
  let summary: DecodeSummary | undefined;
  for await (const s of decodeMedia(input, OPTIONS, { onSummary: (x) => (summary = x) })) steps.push(s);
  return { steps, summary };
}

function brightness(frame: Uint8Array): number {
  let sum = 0;
  for (const v of frame) sum += v;
  return sum / frame.length;
}

function energy(samples: Float32Array): number {
  let sum = 0;
  for (const v of samples) sum += v * v;
  return sum / samples.length;
}

describe('decoding into 10 Hz steps', () => {
  for (const fps of [23.976, 25, 30, 120]) {
    for (const duration of [2.35, 1.07]) {
      it(`${fps} fps, ${duration} s: ceil(duration x 10) steps at k / 10 s, each with a frame and full audio but the last`, async () => {
        await withTempDir(async (dir) => {
          const clip = await syntheticClip(dir, 'c.mp4', { fps, duration });
          const { steps, summary } = await decodeAll(clip);
          const expected = Math.ceil(duration * 10);
          assert.equal(steps.length, expected);
          assert.equal(summary?.steps, expected);
          steps.forEach((s, k) => {
            assert.equal(s.index, k);
            assert.ok(Math.abs(s.t - k / 10) < 1e-9);
            assert.ok(s.frame, `step ${k} has a frame`);
            assert.equal(s.frame?.length, 160 * 120 * 3);
            assert.equal(s.audio.length, 1600);
          });
          for (const s of steps.slice(0, -1)) assert.equal(s.audioCoverage, 1);
          assert.ok((steps.at(-1)?.audioCoverage ?? 0) > 0);
        });
      });
    }
  }

  it('a flash and a beep at the same media time land in the same step', async () => {
    await withTempDir(async (dir) => {
      const { steps } = await decodeAll(await flashAndBeep(dir, 1.2));
      const flash = steps.reduce(
        (best, s) =>
          brightness(s.frame as Uint8Array) > brightness(steps[best]?.frame as Uint8Array) ? s.index : best,
        0,
      );
      const beep = steps.reduce(
        (best, s) => (energy(s.audio) > energy(steps[best]?.audio as Float32Array) ? s.index : best),
        0,
      );
      assert.equal(flash, 12);
      assert.equal(beep, 12);
    });
  });

  it('a file without audio: every step has a frame, zero audio and coverage 0', async () => {
    await withTempDir(async (dir) => {
      const { steps, summary } = await decodeAll(
        await syntheticClip(dir, 'v.mp4', { fps: 25, duration: 1.5, audio: false }),
      );
      assert.equal(steps.length, 15);
      assert.equal(summary?.hasAudio, false);
      for (const s of steps) {
        assert.ok(s.frame);
        assert.equal(s.audioCoverage, 0);
        assert.equal(energy(s.audio), 0);
      }
    });
  });

  it('a file without video: every step has audio and no frame', async () => {
    await withTempDir(async (dir) => {
      const { steps, summary } = await decodeAll(
        await syntheticClip(dir, 'a.wav', { fps: 25, duration: 1.5, video: false }),
      );
      assert.equal(steps.length, 15);
      assert.equal(summary?.hasVideo, false);
      for (const s of steps) assert.equal(s.frame, undefined);
      assert.ok(steps.slice(0, -1).every((s) => s.audioCoverage === 1 && energy(s.audio) > 1e-3));
    });
  });

  it('a still image looped into a video gives identical frames on every step', async () => {
    await withTempDir(async (dir) => {
      const png = join(dir, 'still.png');
      await ffmpeg('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=1', '-frames:v', '1', png);
      const clip = join(dir, 'still.mp4');
      await ffmpeg(
        '-loop',
        '1',
        '-i',
        png,
        '-t',
        '1.55',
        '-r',
        '30',
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv444p',
        '-qp',
        '0',
        clip,
      );
      const { steps } = await decodeAll(clip);
      assert.equal(steps.length, 16);
      for (const s of steps) assert.deepEqual(s.frame, steps[0]?.frame);
      assert.ok(steps.every((s) => s.audioCoverage === 0));
    });
  });

  it('piped input (stdin-like) gives the same steps as the file', async () => {
    await withTempDir(async (dir) => {
      const mp4 = await syntheticClip(dir, 'c.mp4', { fps: 30, duration: 1.3 });
      const mkv = join(dir, 'c.mkv');
      await ffmpeg('-i', mp4, '-c', 'copy', mkv);
      const fromFile = await decodeAll(mkv);
      const fromPipe = await decodeAll({ stream: createReadStream(mkv), name: 'pipe' });
      assert.equal(fromPipe.steps.length, fromFile.steps.length);
      fromFile.steps.forEach((s, k) => {
        assert.deepEqual(fromPipe.steps[k]?.frame, s.frame);
      });
    });
  });

  it('a truncated file, a non-media file and a missing file give ERI_ERR_MEDIA_DECODE', async () => {
    await withTempDir(async (dir) => {
      const clip = await syntheticClip(dir, 'c.mkv', { fps: 25, duration: 2 });
      const { readFile } = await import('node:fs/promises');
      const bytes = await readFile(clip);
      const truncated = join(dir, 'truncated.mkv');
      await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      const text = join(dir, 'notes.mp4');
      await writeFile(text, 'this is not a video\n'.repeat(100));
      for (const input of [truncated, text, join(dir, 'missing.mp4')]) {
        await assert.rejects(decodeAll(input), { code: 'ERI_ERR_MEDIA_DECODE' }, input);
      }
    });
  });

  it('stopping early kills ffmpeg and leaves nothing running', async () => {
    await withTempDir(async (dir) => {
      const clip = await syntheticClip(dir, 'c.mp4', { fps: 25, duration: 5 });
      let n = 0;
      for await (const _ of decodeMedia(clip, OPTIONS)) if (++n === 3) break;
      assert.equal(n, 3);
    });
  });
});
