import { escapeXml } from '../util/xml.js';
import type { EvaluationMetrics } from './metrics.js';

/**
 * Predicted vs true intensity per emotion, one small scatter panel each, as a self-contained SVG (no
 * plotting library: seven squares, a diagonal and dots).
 */

const PANEL = 220;
const PAD = 34;
const COLUMNS = 4;

const esc = escapeXml;

export function scatterSvg(
  title: string,
  emotions: readonly string[],
  predicted: readonly ArrayLike<number>[],
  truth: readonly ArrayLike<number>[],
  metrics: EvaluationMetrics,
): string {
  const rows = Math.ceil(emotions.length / COLUMNS);
  const width = COLUMNS * (PANEL + PAD) + PAD;
  const height = rows * (PANEL + PAD + 18) + PAD + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD}" y="24" font-size="15" font-weight="bold">${esc(title)} — mean Pearson r ${metrics.meanPearsonR.toFixed(3)}, MAE ${metrics.mae.toFixed(3)}, ${metrics.clips} clips</text>`,
  ];
  for (const [j, emotion] of emotions.entries()) {
    const x0 = PAD + (j % COLUMNS) * (PANEL + PAD);
    const y0 = 40 + Math.floor(j / COLUMNS) * (PANEL + PAD + 18) + 18;
    const px = (v: number) => (x0 + Math.min(1, Math.max(0, v)) * PANEL).toFixed(1);
    const py = (v: number) => (y0 + PANEL - Math.min(1, Math.max(0, v)) * PANEL).toFixed(1);
    parts.push(
      `<text x="${x0}" y="${y0 - 5}">${esc(emotion)}: r ${(metrics.pearsonR[emotion] ?? 0).toFixed(3)}</text>`,
      `<rect x="${x0}" y="${y0}" width="${PANEL}" height="${PANEL}" fill="none" stroke="#888"/>`,
      `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#bbb" stroke-dasharray="4 3"/>`,
      `<text x="${x0 + PANEL / 2}" y="${y0 + PANEL + 14}" text-anchor="middle" fill="#555">true</text>`,
      `<text x="${x0 - 6}" y="${y0 + PANEL / 2}" text-anchor="middle" fill="#555" transform="rotate(-90 ${x0 - 6} ${y0 + PANEL / 2})">predicted</text>`,
    );
    for (const [i, row] of predicted.entries()) {
      const t = truth[i]?.[j] as number;
      const p = row[j] as number;
      parts.push(`<circle cx="${px(t)}" cy="${py(p)}" r="2.5" fill="#2a6fdb" fill-opacity="0.6"/>`);
    }
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
