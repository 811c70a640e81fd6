import type { AudienceTimeline, Study } from '../contracts/study.js';
import { escapeXml } from '../util/xml.js';

/**
 * The one-page study report: per emotion the audience mean over the stimulus timeline with its spread,
 * the number of viewers at each second beneath, and the top moments; a self-contained SVG (the CLI
 * renders it to PNG).
 */

const W = 1100;
const CHART_W = 500;
const CHART_H = 150;
const COLS = 2;

const esc = escapeXml;

const mmss = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

export function reportSvg(study: Study, t: AudienceTimeline): string {
  const rows = Math.ceil(t.emotions.length / COLS);
  const height = 90 + rows * (CHART_H + 80);
  const seconds = Math.max(1, t.audience.length);
  const maxViewers = Math.max(1, ...t.audience.map((a) => a.viewers));
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="30" y="32" font-size="18" font-weight="bold">${esc(study.name)} — audience reactions on the stimulus timeline</text>`,
    `<text x="30" y="54" fill="#444">${t.viewers.length} viewer(s), ${study.durationS ? `${study.durationS.toFixed(1)} s stimulus` : 'stimulus length unknown'}; line: mean across the viewers at each second, band: ± one standard deviation, grey bars: viewers contributing (max ${maxViewers}).</text>`,
  ];
  for (const [j, emotion] of t.emotions.entries()) {
    const x0 = 40 + (j % COLS) * (CHART_W + 60);
    const y0 = 80 + Math.floor(j / COLS) * (CHART_H + 80);
    const px = (s: number) => (x0 + (s / seconds) * CHART_W).toFixed(1);
    const py = (v: number) => (y0 + CHART_H - Math.min(1, Math.max(0, v)) * CHART_H).toFixed(1);
    out.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${esc(emotion)}</text>`);
    out.push(`<rect x="${x0}" y="${y0}" width="${CHART_W}" height="${CHART_H}" fill="none" stroke="#999"/>`);
    for (const a of t.audience) {
      if (a.viewers === 0) continue;
      const h = (a.viewers / maxViewers) * 20;
      out.push(
        `<rect x="${px(a.second)}" y="${(y0 + CHART_H - h).toFixed(1)}" width="${(CHART_W / seconds).toFixed(1)}" height="${h.toFixed(1)}" fill="#ddd"/>`,
      );
    }
    const seen = t.audience.filter((a) => a.viewers > 0);
    if (seen.length > 0) {
      const upper = seen.map(
        (a) => `${px(a.second + 0.5)},${py((a.mean[j] as number) + (a.std[j] as number))}`,
      );
      const lower = seen
        .map((a) => `${px(a.second + 0.5)},${py((a.mean[j] as number) - (a.std[j] as number))}`)
        .reverse();
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="#2a6fdb" fill-opacity="0.18"/>`);
      out.push(
        `<polyline points="${seen.map((a) => `${px(a.second + 0.5)},${py(a.mean[j] as number)}`).join(' ')}" fill="none" stroke="#2a6fdb" stroke-width="2"/>`,
      );
    }
    out.push(`<text x="${x0}" y="${y0 + CHART_H + 14}" fill="#555">0:00</text>`);
    out.push(
      `<text x="${x0 + CHART_W}" y="${y0 + CHART_H + 14}" text-anchor="end" fill="#555">${mmss(seconds)}</text>`,
    );
    const peaks = (t.peaks[emotion] ?? []).map(
      (p) => `${mmss(p.second)} (${p.mean.toFixed(2)}, ${p.viewers} viewer${p.viewers === 1 ? '' : 's'})`,
    );
    out.push(
      `<text x="${x0}" y="${y0 + CHART_H + 32}" fill="#222">top moments: ${esc(peaks.join('   ') || 'none yet')}</text>`,
    );
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
