import uPlot from 'uplot';

/**
 * The study view (`/study?study=…[&token=…]`, bundled into dist/public/study.js): the audience curve per
 * emotion over the stimulus timeline (mean, ± one standard deviation, each viewer's trace), how many
 * viewers contributed at each second, and the top moments per emotion with a frame of the stimulus. It
 * polls the timeline every two seconds, so it updates while viewers watch and stays after they leave.
 */

const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
/** How many viewers computed their own features (edge mode), when any did. */
function edgeViewers(t: Timeline): string {
  const n = t.viewers.filter((v) => v.analysis === 'edge').length;
  return n ? ` (${n} analysed in their own browser)` : '';
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const studyId = params.get('study') ?? '';
const token = params.get('token') ?? undefined;
const auth = token ? `?access_token=${encodeURIComponent(token)}` : '';

interface Timeline {
  emotions: string[];
  durationS: number | null;
  audience: { second: number; viewers: number; mean: number[]; std: number[] }[];
  viewers: { sessionId: string; seconds: Record<string, number[]>; analysis: 'server' | 'edge' }[];
  peaks: Record<string, { second: number; mean: number; viewers: number }[]>;
}

const charts: uPlot[] = [];
let shape = '';
let shownPeaks = '';
const mmss = (s: number) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, '0')}`;

function data(t: Timeline, e: number): uPlot.AlignedData {
  const xs = t.audience.map((a) => a.second);
  const seen = (a: Timeline['audience'][number], v: number) => (a.viewers > 0 ? v : null);
  return [
    xs,
    ...t.viewers.map((v) => xs.map((s) => v.seconds[String(s)]?.[e] ?? null)),
    t.audience.map((a) => seen(a, a.mean[e] ?? 0)),
    t.audience.map((a) => seen(a, Math.max(0, (a.mean[e] ?? 0) - (a.std[e] ?? 0)))),
    t.audience.map((a) => seen(a, Math.min(1, (a.mean[e] ?? 0) + (a.std[e] ?? 0)))),
  ] as uPlot.AlignedData;
}

function build(t: Timeline): void {
  for (const c of charts.splice(0)) c.destroy();
  const grid = $('charts');
  grid.innerHTML = '';
  const width = Math.max(300, Math.floor(grid.clientWidth / 2) - 24);
  t.emotions.forEach((name, e) => {
    const cell = document.createElement('figure');
    cell.className = 'chart';
    grid.append(cell);
    charts.push(
      new uPlot(
        {
          title: name,
          width,
          height: 180,
          scales: { x: { time: false }, y: { range: [0, 1] } },
          axes: [{ label: 'stimulus time (s)', size: 34 }, { size: 36 }],
          legend: { show: false },
          series: [
            {},
            ...t.viewers.map((v, i) => ({
              label: v.sessionId,
              stroke: `${PALETTE[i % PALETTE.length]}88`,
              width: 1,
              points: { show: false },
            })),
            { label: 'audience mean', stroke: '#222', width: 3, points: { show: false } },
            { label: 'mean - sd', stroke: '#999', dash: [4, 4], width: 1, points: { show: false } },
            { label: 'mean + sd', stroke: '#999', dash: [4, 4], width: 1, points: { show: false } },
          ],
        },
        data(t, e),
        cell,
      ),
    );
  });
  const counts = document.createElement('figure');
  counts.className = 'chart';
  grid.append(counts);
  charts.push(
    new uPlot(
      {
        title: 'viewers at each second',
        width,
        height: 180,
        scales: { x: { time: false }, y: { range: [0, Math.max(1, t.viewers.length)] } },
        axes: [{ label: 'stimulus time (s)', size: 34 }, { size: 36 }],
        legend: { show: false },
        series: [
          {},
          {
            label: 'viewers',
            stroke: '#0072B2',
            fill: '#0072B233',
            width: 1,
            paths: uPlot.paths.stepped?.({ align: 1 }),
            points: { show: false },
          },
        ],
      },
      [t.audience.map((a) => a.second), t.audience.map((a) => a.viewers)],
      counts,
    ),
  );
}

function render(study: { name: string; durationS: number | null }, t: Timeline): void {
  $('name').textContent = study.name;
  $('summary').textContent =
    `${t.viewers.length} viewer(s)${edgeViewers(t)} · stimulus ${study.durationS ? `${study.durationS.toFixed(1)} s` : 'length unknown'} · updated ${new Date().toLocaleTimeString()}`;
  $('viewer-modes').textContent = t.viewers
    .map(
      (v) =>
        `${v.sessionId}: ${v.analysis === 'edge' ? 'analysed in their browser' : 'analysed by the server'}`,
    )
    .join(' · ');
  $('summary').dataset.viewers = String(t.viewers.length);
  const nextShape = `${t.viewers.map((v) => v.sessionId).join()}|${t.audience.length}`;
  if (nextShape !== shape || charts.length === 0) build(t);
  else
    t.emotions.forEach((_, e) => {
      charts[e]?.setData(data(t, e));
    });
  charts.at(-1)?.setData([t.audience.map((a) => a.second), t.audience.map((a) => a.viewers)]);
  shape = nextShape;
  const peaks = t.emotions
    .map((name) => {
      const items = (t.peaks[name] ?? [])
        .map(
          (p) =>
            `<figure><img loading="lazy" alt="stimulus at ${mmss(p.second)}" src="/v1/studies/${encodeURIComponent(studyId)}/thumbnail${auth}${auth ? '&' : '?'}at=${p.second + 0.5}"><figcaption>${mmss(p.second)} · ${p.mean.toFixed(2)} · ${p.viewers} viewer${p.viewers === 1 ? '' : 's'}</figcaption></figure>`,
        )
        .join('');
      return `<div class="peak"><h3>${name}</h3><div class="thumbs">${items || '<span class="muted">none yet</span>'}</div></div>`;
    })
    .join('');
  // Only when they change: rewriting the images every poll makes them flicker.
  if (peaks !== shownPeaks) {
    $('peaks').innerHTML = peaks;
    shownPeaks = peaks;
  }
}

async function refresh(): Promise<void> {
  const r = await fetch(`/v1/studies/${encodeURIComponent(studyId)}/timeline`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  if (!r.ok) {
    $('status').textContent = `Cannot read this study (${r.status}).`;
    $('status').dataset.kind = 'error';
    return;
  }
  const body = (await r.json()) as { study: { name: string; durationS: number | null }; timeline: Timeline };
  $('status').textContent = '';
  render(body.study, body.timeline);
}

window.addEventListener('DOMContentLoaded', () => {
  $('csv').setAttribute(
    'href',
    `/v1/studies/${encodeURIComponent(studyId)}/timeline${auth}${auth ? '&' : '?'}format=csv`,
  );
  $('report').setAttribute('href', `/v1/studies/${encodeURIComponent(studyId)}/report.svg${auth}`);
  const tick = () => refresh().catch((e: Error) => ($('status').textContent = e.message));
  void tick();
  setInterval(tick, 2000);
});
