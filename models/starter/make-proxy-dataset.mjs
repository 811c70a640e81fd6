#!/usr/bin/env node
// The starter model's training media: synthetic clips made from two public-domain portraits (fetched by
// scripts/setup.sh from Debian packages) with ffmpeg, and speech from espeak-ng. Deterministic: the same
// seed gives the same clips on every machine. Usage: node models/starter/make-proxy-dataset.mjs <dir> [count] [seed]
//
// Each clip places a portrait somewhere on a 640x480 canvas at some size, bends it with a time-varying
// warp around the mouth or brows (a smile, a frown, an open mouth, raised brows, or none), tilts it,
// changes its proportions, skin tone, light and contrast, maybe mirrors it; the sound is an espeak-ng
// sentence (voice, pitch and speed vary), a laugh-like "ha ha", near silence (faint noise) or digital
// silence (a muted microphone). The clips carry no labels: the teacher (eri_train teacher) labels them
// from what the extractor measures. A rerun keeps every clip already rendered.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { portraitPath } from '../../dist/src/dataset/portraits.js';
import { mulberry32 } from '../../dist/src/model/init.js';

const run = promisify(execFile);
const EMOTIONS = ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise'];

/** Where the face is in each portrait (pixels of the 512x512 original): the crop, the mouth, the brows. */
const PORTRAITS = {
  grace_hopper: {
    crop: [115, 70, 290, 330],
    mouth: [262, 262],
    mouthWidth: 45,
    brows: [268, 165],
    browWidth: 80,
  },
  astronaut: {
    crop: [120, 10, 200, 230],
    mouth: [222, 145],
    mouthWidth: 28,
    brows: [222, 92],
    browWidth: 50,
  },
};

const SENTENCES = [
  'Oh wow, I did not expect that at all!',
  'That is so sweet, look at them.',
  'No, no, no, please do not go in there.',
  'Ugh, that is disgusting.',
  'Oh, that must hurt so much.',
  'Wait, what was that noise?',
  'Ha ha ha, that is hilarious!',
  'I think I have seen this one before.',
  'Well, that was fairly ordinary.',
  'Oh my goodness, what happened?',
];
const VOICES = ['en', 'en-us', 'en+f3', 'en+m3', 'en+f2', 'en-gb-x-rp'];

function pick(rnd, list) {
  return list[Math.floor(rnd() * list.length)];
}

function clipSpec(i, rnd, seconds) {
  const portrait = i % 2 === 0 ? 'grace_hopper' : 'astronaut';
  return {
    id: `proxy${String(i).padStart(4, '0')}`,
    portrait,
    height: Math.round(240 + rnd() * 200),
    dx: rnd() * 2 - 1,
    dy: rnd() * 2 - 1,
    warp: pick(rnd, ['none', 'smile', 'smile', 'frown', 'open', 'brows', 'open+brows', 'frown+brows']),
    amount: 0.4 + rnd() * 0.6,
    period: 1.5 + rnd() * 3,
    roll: (rnd() * 2 - 1) * 0.25,
    brightness: (rnd() * 2 - 1) * 0.15,
    contrast: 0.7 + rnd() * 0.6,
    mirror: rnd() < 0.5,
    sound: pick(rnd, ['speech', 'speech', 'laugh', 'quiet']),
    sentence: pick(rnd, SENTENCES),
    voice: pick(rnd, VOICES),
    pitch: Math.round(20 + rnd() * 60),
    speed: Math.round(130 + rnd() * 60),
    seconds,
    // Identity variation on top of the two photographs: face proportions and skin tone.
    aspect: 0.85 + rnd() * 0.3,
    hue: (rnd() * 2 - 1) * 12,
    saturation: 0.7 + rnd() * 0.6,
  };
}

/**
 * geq source-row expression, in the crop's normalised coordinates (u = X/W, v = Y/H, so one expression
 * serves the luma and the half-size chroma planes): the warp pulls pixels from elsewhere in the column
 * around the mouth or the brows, its strength rising and falling with time T.
 */
function warpExpression(c, geo) {
  const [cx0, cy0, cw, ch] = geo.crop;
  const nx = (x) => ((x - cx0) / cw).toFixed(4);
  const ny = (y) => ((y - cy0) / ch).toFixed(4);
  const amp = `(${c.amount.toFixed(3)}*(0.5-0.5*cos(2*PI*T/${c.period.toFixed(2)})))`;
  const g = (x, y, sx, sy) => `exp(-(pow((X/W-${x})/${sx.toFixed(4)},2)+pow((Y/H-${y})/${sy.toFixed(4)},2)))`;
  const [mx, my] = [nx(geo.mouth[0]), ny(geo.mouth[1])];
  const [bx, by] = [nx(geo.brows[0]), ny(geo.brows[1])];
  const mw = geo.mouthWidth / cw;
  const mh = geo.mouthWidth / ch;
  const bw = geo.browWidth / cw;
  const bh = geo.browWidth / ch;
  const corners = `(pow((X/W-${mx})/${mw.toFixed(4)},2)-0.3)`;
  const terms = [];
  for (const part of c.warp.split('+')) {
    if (part === 'smile')
      terms.push(`${amp}*${(0.35 * mh).toFixed(4)}*${g(mx, my, mw, 0.6 * mh)}*${corners}`);
    if (part === 'frown')
      terms.push(`-1*${amp}*${(0.3 * mh).toFixed(4)}*${g(mx, my, mw, 0.6 * mh)}*${corners}`);
    if (part === 'open') terms.push(`-1*${amp}*0.45*(Y/H-${my})*${g(mx, my, 0.9 * mw, 0.7 * mh)}`);
    if (part === 'brows') terms.push(`${amp}*${(0.18 * bh).toFixed(4)}*${g(bx, by, bw, 0.35 * bh)}`);
  }
  return terms.length ? `H*(Y/H+${terms.join('+')})` : null;
}

async function renderClip(c, final) {
  // Rendered beside the clip and renamed into place, so a rerun can keep every clip that exists.
  if (existsSync(final)) return;
  const path = `${final}.partial.mp4`;
  const geo = PORTRAITS[c.portrait];
  const [cx0, cy0, cw, ch] = geo.crop;
  const scale = c.height / ch;
  const w = Math.round((cw * scale * c.aspect) / 2) * 2;
  const h = Math.round((ch * scale) / 2) * 2;
  const ox = Math.round(((640 - w) / 2) * (1 + 0.8 * c.dx));
  const oy = Math.round(((480 - h) / 2) * (1 + 0.8 * c.dy));
  const ys = warpExpression(c, geo);
  const video = [
    `crop=${cw}:${ch}:${cx0}:${cy0}`,
    'format=yuv444p',
    ys ? `geq=lum='lum(X,${ys})':cb='cb(X,${ys})':cr='cr(X,${ys})'` : null,
    `scale=${w}:${h}`,
    `pad=640:480:${ox}:${oy}:color=0x303030`,
    `rotate=${c.roll.toFixed(3)}:c=0x303030`,
    `eq=brightness=${c.brightness.toFixed(3)}:contrast=${c.contrast.toFixed(3)}`,
    `hue=h=${c.hue.toFixed(1)}:s=${c.saturation.toFixed(3)}`,
    c.mirror ? 'hflip' : null,
    'format=yuv420p',
  ]
    .filter(Boolean)
    .join(',');
  const wav = `${path}.wav`;
  if (c.sound === 'silent') {
    // Digital silence: what a muted microphone sends, and what silent tracks in files hold.
    await run('ffmpeg', [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `anullsrc=r=16000:cl=mono`],
      ...['-t', String(c.seconds), wav],
    ]);
  } else if (c.sound === 'quiet') {
    await run('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `anoisesrc=color=pink:amplitude=0.003:duration=${c.seconds}:seed=3`,
      '-ar',
      '16000',
      wav,
    ]);
  } else {
    const text = c.sound === 'laugh' ? 'ha ha ha ha, ha ha ha' : c.sentence;
    await run('espeak-ng', ['-v', c.voice, '-p', String(c.pitch), '-s', String(c.speed), '-w', wav, text]);
  }
  await run(
    'ffmpeg',
    [
      ...[
        '-v',
        'error',
        '-nostdin',
        '-y',
        '-loop',
        '1',
        '-framerate',
        '10',
        '-i',
        portraitPath(c.portrait),
        '-i',
        wav,
      ],
      ...[
        '-filter_complex',
        `[0:v]${video}[v];[1:a]apad,atrim=0:${c.seconds}[a]`,
        '-map',
        '[v]',
        '-map',
        '[a]',
      ],
      ...[
        '-t',
        String(c.seconds),
        '-r',
        '10',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '20',
        '-c:a',
        'aac',
        path,
      ],
    ],
    { timeout: 120_000 },
  );
  await run('rm', ['-f', wav]);
  await rename(path, final);
}

const [dir, countArg = '240', seedArg = '2026'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: make-proxy-dataset.mjs <dir> [count] [seed]');
  process.exit(2);
}
const count = Number(countArg);
const rnd = mulberry32(Number(seedArg));
// A second stream decides which clips are digitally silent, so adding it left every other draw as it was.
const silence = mulberry32(Number(seedArg) ^ 0x51e7);
const specs = Array.from({ length: count }, (_, i) => {
  const spec = clipSpec(i, rnd, 4);
  return silence() < 0.2 ? { ...spec, sound: 'silent' } : spec;
});
await mkdir(join(dir, 'videos'), { recursive: true });
const empty = EMOTIONS.map(() => '').join(',');
const rows = specs.map((c, i) => `${c.id},${i % 5 === 4 ? 'Val' : 'Train'},${empty}`);
await writeFile(join(dir, 'data_info.csv'), `File_ID,Split,${EMOTIONS.join(',')}\n${rows.join('\n')}\n`);
await writeFile(join(dir, 'clips.json'), `${JSON.stringify(specs, null, 1)}\n`);
for (let i = 0; i < specs.length; i += 2) {
  await Promise.all(specs.slice(i, i + 2).map((c) => renderClip(c, join(dir, 'videos', `${c.id}.mp4`))));
  if ((i + 2) % 40 === 0) console.error(`${i + 2}/${specs.length} clips`);
}
console.error(`wrote ${specs.length} clips and data_info.csv to ${dir}`);
