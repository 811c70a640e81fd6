#!/usr/bin/env node
// The starter package's figures and held-out metrics, from what build.sh measured: training curves
// (training-log.json), the held-out measures with their intervals and the running check (heldout.json).
// Writes training-curves.svg, heldout.svg, running.svg into the package and the held-out figures into
// its card's metrics (the card's metrics are not covered by the weights' hash).
// Usage: node models/starter/card-figures.mjs <package-dir>
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: card-figures.mjs <package-dir>');
  process.exit(2);
}
const COLOURS = {
  student: '#1f77b4',
  constant: '#999999',
  'teacher:expr': '#d62728',
  'teacher:facs': '#2ca02c',
  'teacher:combo': '#9467bd',
  'teacher:faceapi': '#ff7f0e',
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A line chart: series [{name, points: [[x, y]], colour}] in a w x h box with axes and a legend. */
function lineChart({ title, xLabel, yLabel, series, yMin, yMax, w = 640, h = 300, marks = [] }) {
  const m = { l: 56, r: 150, t: 28, b: 40 };
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const lo = yMin ?? Math.min(...ys);
  const hi = yMax ?? Math.max(...ys);
  const X = (x) => m.l + ((x - x0) / (x1 - x0 || 1)) * (w - m.l - m.r);
  const Y = (y) => h - m.b - ((y - lo) / (hi - lo || 1)) * (h - m.t - m.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${m.l}" y="16" font-size="13">${esc(title)}</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${m.l}" x2="${w - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`,
    ),
    `<line x1="${m.l}" x2="${w - m.r}" y1="${h - m.b}" y2="${h - m.b}" stroke="#333"/>`,
    `<text x="${(m.l + w - m.r) / 2}" y="${h - 8}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(14 ${(h - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    `<text x="${m.l}" y="${h - m.b + 14}">${x0}</text><text x="${w - m.r}" y="${h - m.b + 14}" text-anchor="end">${x1}</text>`,
    ...marks.map(
      (x) =>
        `<line x1="${X(x)}" x2="${X(x)}" y1="${m.t}" y2="${h - m.b}" stroke="#333" stroke-dasharray="4 3"/>`,
    ),
  ];
  series.forEach((s, i) => {
    const d = s.points
      .filter((p) => Number.isFinite(p[1]))
      .map((p, j) => `${j ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`)
      .join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="1.6"/>`);
    parts.push(
      `<rect x="${w - m.r + 10}" y="${m.t + i * 16}" width="10" height="10" fill="${s.colour}"/><text x="${w - m.r + 24}" y="${m.t + i * 16 + 9}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Grouped bars with 95 % intervals: groups [{label, bars: [{name, value, low, high}]}]. */
function barChart({ title, groups, yLabel, chance, w = 720, h = 320 }) {
  const m = { l: 56, r: 150, t: 28, b: 56 };
  const names = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const gw = (w - m.l - m.r) / groups.length;
  const bw = (gw * 0.8) / names.length;
  const Y = (y) => h - m.b - y * (h - m.t - m.b);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${m.l}" y="16" font-size="13">${esc(title)}</text>`,
    ...[0, 0.25, 0.5, 0.75, 1].map(
      (t) =>
        `<line x1="${m.l}" x2="${w - m.r}" y1="${Y(t)}" y2="${Y(t)}" stroke="#eee"/><text x="${m.l - 6}" y="${Y(t) + 4}" text-anchor="end">${t.toFixed(2)}</text>`,
    ),
    `<text transform="translate(14 ${(h - m.b + m.t) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  if (chance !== undefined)
    parts.push(
      `<line x1="${m.l}" x2="${w - m.r}" y1="${Y(chance)}" y2="${Y(chance)}" stroke="#333" stroke-dasharray="4 3"/><text x="${w - m.r - 2}" y="${Y(chance) - 3}" text-anchor="end">chance</text>`,
    );
  groups.forEach((g, gi) => {
    const gx = m.l + gi * gw + gw * 0.1;
    g.bars.forEach((b) => {
      if (b.value === null) return;
      const x = gx + names.indexOf(b.name) * bw;
      const c = COLOURS[b.name] ?? '#444';
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${Y(b.value).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(Y(0) - Y(b.value)).toFixed(1)}" fill="${c}" opacity="0.8"/>`,
      );
      const cx = x + (bw - 2) / 2;
      parts.push(
        `<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${Y(b.low).toFixed(1)}" y2="${Y(b.high).toFixed(1)}" stroke="#000"/>`,
      );
    });
    parts.push(
      `<text x="${(gx + gw * 0.4).toFixed(1)}" y="${h - m.b + 14}" text-anchor="middle">${esc(g.label)}</text>`,
    );
    if (g.n !== undefined)
      parts.push(
        `<text x="${(gx + gw * 0.4).toFixed(1)}" y="${h - m.b + 27}" text-anchor="middle" fill="#666">n=${g.n}</text>`,
      );
  });
  for (const [i, n] of names.entries())
    parts.push(
      `<rect x="${w - m.r + 10}" y="${m.t + i * 16}" width="10" height="10" fill="${COLOURS[n] ?? '#444'}"/><text x="${w - m.r + 24}" y="${m.t + i * 16 + 9}">${esc(n)}</text>`,
    );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

const log = JSON.parse(await readFile(join(dir, 'training-log.json'), 'utf8'));
await writeFile(
  join(dir, 'training-curves.svg'),
  lineChart({
    title: `Training (best epoch ${log.best_epoch}, dashed): ${log.config.val_split} r against the teacher`,
    xLabel: 'epoch',
    yLabel: 'value',
    yMin: 0,
    yMax: 1,
    marks: [log.best_epoch],
    series: [
      {
        name: 'train loss x10',
        colour: '#ff7f0e',
        points: log.history.map((e) => [e.epoch, Math.min(1, e.train_loss * 10)]),
      },
      {
        name: 'val mean r',
        colour: '#1f77b4',
        points: log.history.map((e) => [e.epoch, e.val_mean_pearson_r]),
      },
      {
        name: 'val MAE x10',
        colour: '#2ca02c',
        points: log.history.map((e) => [e.epoch, Math.min(1, e.val_mae * 10)]),
      },
    ],
  }),
);

const cardPath = join(dir, 'model.json');
const card = JSON.parse(await readFile(cardPath, 'utf8'));
const heldoutPath = join(dir, 'heldout.json');
if (existsSync(heldoutPath)) {
  const h = JSON.parse(await readFile(heldoutPath, 'utf8'));
  const scorers = Object.keys(h.scorers);
  const bar = (name, r) => ({ name, value: r.value, low: r.low ?? r.value, high: r.high ?? r.value });
  const groups = [
    ...h.mapped.map((e) => ({
      label: e,
      n: h.scorers[scorers[0]].directionPerEmotion[e].n,
      bars: scorers.map((s) => bar(s, h.scorers[s].directionPerEmotion[e])),
    })),
    {
      label: 'all',
      n: h.scorers[scorers[0]].direction.n,
      bars: scorers.map((s) => bar(s, h.scorers[s].direction)),
    },
  ];
  await writeFile(
    join(dir, 'heldout.svg'),
    barChart({
      title:
        "Held-out people (MEAD): the mapped emotion higher than on the person's neutral clip (95 % bootstrap)",
      yLabel: 'fraction of clips',
      groups,
      chance: 0.5,
    }),
  );
  const run = h.running?.find((r) => r.windowS === 30) ?? h.running?.[0];
  if (run) {
    // Each series row is [window end, ...values in heldout.json's emotion order].
    const emotion = run.scorers.student?.emotion ?? 'Amusement';
    const j = 1 + h.emotions.indexOf(emotion);
    await writeFile(
      join(dir, 'running.svg'),
      lineChart({
        title: `Running ${emotion}, ${run.clip.split('/').pop()} (${run.windowS} s window)`,
        xLabel: 'media seconds (window end)',
        yLabel: emotion,
        yMin: 0,
        yMax: 1,
        marks: [run.scorers.student?.splitAtS ?? 0],
        series: Object.entries(run.series)
          .filter(([n]) => n !== 'constant')
          .map(([n, pts]) => ({
            name: n,
            colour: COLOURS[n] ?? '#444',
            points: pts.map((p) => [p[0], p[j]]),
          })),
      }),
    );
  }
  const note = `${h.clips} MEAD clips in ../shared/testmedia (people never trained on); 95 % bootstrap interval`;
  const fmt = (r) => `[${r.low?.toFixed(3)}, ${r.high?.toFixed(3)}], n=${r.n}`;
  card.metrics = card.metrics.filter((m) => m.split !== 'MEAD held-out' && m.split !== 'running check');
  for (const s of scorers) {
    const r = h.scorers[s];
    const who = s === 'student' ? '' : `.${s.replace(':', '_')}`;
    card.metrics.push({
      name: `direction_vs_neutral${who}`,
      split: 'MEAD held-out',
      value: r.direction.value,
      note: `${note} ${fmt(r.direction)}`,
    });
    card.metrics.push({
      name: `top1_mapped_emotion${who}`,
      split: 'MEAD held-out',
      value: r.top1.value,
      note: `chance ${h.chance_top1.toFixed(2)}; ${fmt(r.top1)}`,
    });
  }
  for (const rc of h.running ?? []) {
    for (const [s, r] of Object.entries(rc.scorers)) {
      if (!r) continue;
      const who = s === 'student' ? '' : `.${s.replace(':', '_')}`;
      card.metrics.push({
        name: `amusement_laughing_minus_distress.window${rc.windowS}s${who}`,
        split: 'running check',
        value: r.margin.value,
        note: `${rc.clip}: mean running Amusement after ${r.splitAtS.toFixed(1)} s minus before; ${fmt(r.margin)}`,
      });
    }
  }
}
await writeFile(cardPath, `${JSON.stringify(card, null, 2)}\n`);
console.log(`figures and held-out metrics written into ${dir}`);
