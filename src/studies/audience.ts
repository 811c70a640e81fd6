import type { Estimate } from '../contracts/estimate.js';
import type { AudienceTimeline, Study, ViewerTrace } from '../contracts/study.js';
import type { SessionSummary } from '../history/history-store.js';

/**
 * The audience on the stimulus timeline, from the viewers' estimate history: each viewer's running
 * estimates placed at the stimulus second their window ended on (estimates with no stimulus position —
 * before the first play, paused, buffering — are left out), then per second the viewers who were there
 * and their mean and spread per emotion, and the top moments per emotion.
 */

const PEAKS_PER_EMOTION = 3;

export function viewerTrace(
  record: SessionSummary,
  estimates: readonly Estimate[],
  studyId: string,
): ViewerTrace | undefined {
  const sums = new Map<number, { n: number; sum: number[] }>();
  for (const e of estimates) {
    if (e.final || e.stimulus?.studyId !== studyId || e.stimulus.position === null) continue;
    const second = Math.floor(e.stimulus.position);
    const at = sums.get(second) ?? { n: 0, sum: e.values.map(() => 0) };
    at.n++;
    e.values.forEach((v, i) => {
      at.sum[i] = (at.sum[i] ?? 0) + v;
    });
    sums.set(second, at);
  }
  if (sums.size === 0) return undefined;
  const seconds: Record<number, number[]> = {};
  for (const [second, { n, sum }] of [...sums].sort((a, b) => a[0] - b[0]))
    seconds[second] = sum.map((s) => s / n);
  // Records written before edge mode existed have no mode: the server analysed them.
  const analysis = estimates.find((e) => e.analysis)?.analysis ?? 'server';
  return { sessionId: record.sessionId, roomId: record.roomId, seconds, analysis };
}

/** The audience from its viewers' traces (each viewer reduced to per-second means as it is read). */
export function audienceTimeline(
  study: Study,
  traces: readonly ViewerTrace[],
  emotions: readonly string[],
): AudienceTimeline {
  const viewers = traces
    .filter((v) => study.rooms.includes(v.roomId))
    .sort((a, b) => a.sessionId.localeCompare(b.sessionId));
  const lastSecond = Math.max(
    study.durationS !== null ? Math.ceil(study.durationS) - 1 : -1,
    ...viewers.flatMap((v) => Object.keys(v.seconds).map(Number)),
  );
  const audience: AudienceTimeline['audience'] = [];
  for (let second = 0; second <= lastSecond; second++) {
    const here = viewers.map((v) => v.seconds[second]).filter((x): x is number[] => x !== undefined);
    const mean = emotions.map((_, j) =>
      here.length ? here.reduce((s, x) => s + (x[j] as number), 0) / here.length : 0,
    );
    const std = emotions.map((_, j) =>
      here.length
        ? Math.sqrt(here.reduce((s, x) => s + ((x[j] as number) - (mean[j] as number)) ** 2, 0) / here.length)
        : 0,
    );
    audience.push({ second, viewers: here.length, mean, std });
  }
  const peaks: AudienceTimeline['peaks'] = {};
  for (const [j, emotion] of emotions.entries()) {
    peaks[emotion] = audience
      .filter((a) => a.viewers > 0)
      .sort((a, b) => (b.mean[j] as number) - (a.mean[j] as number) || a.second - b.second)
      .slice(0, PEAKS_PER_EMOTION)
      .map((a) => ({ second: a.second, mean: a.mean[j] as number, viewers: a.viewers }));
  }
  return { studyId: study.id, emotions, durationS: study.durationS, audience, viewers, peaks };
}

/** viewer x stimulus second x emotion, one row per viewer-second (the numbers the API returns). */
export function audienceCsv(t: AudienceTimeline): string {
  const rows = [['session_id', 'room_id', 'second', ...t.emotions].join(',')];
  for (const v of t.viewers) {
    for (const [second, values] of Object.entries(v.seconds)) {
      rows.push([v.sessionId, v.roomId, second, ...values.map((x) => x.toFixed(6))].join(','));
    }
  }
  return `${rows.join('\n')}\n`;
}
