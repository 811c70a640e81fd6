import uPlot from 'uplot';
import { endpointUrl } from '../../packages/client/src/socket.js';

/**
 * The live dashboard (bundled by esbuild into dist/public/dashboard.js): one chart per emotion with a
 * line per viewer and the audience mean with its spread, a table of viewers (coverage, latency, status),
 * and session events. It subscribes to a room on /v1/stream and redraws on each room aggregate.
 */

const EMOTIONS = ['Adoration', 'Amusement', 'Anxiety', 'Disgust', 'Empathic-Pain', 'Fear', 'Surprise'];
// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const KEEP_POINTS = 300;

interface Estimate {
  sessionId: string;
  roomId: string;
  seq: number;
  values: number[];
  coverage: { face: number; speech: number };
  latencyMs: number;
  final: boolean;
  windowEnd: number;
}

interface Viewer {
  id: string;
  color: string;
  latest?: Estimate;
  status: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const viewers = new Map<string, Viewer>();
const xs: number[] = [];
const meanSeries = EMOTIONS.map(() => [] as (number | null)[]);
const lowSeries = EMOTIONS.map(() => [] as (number | null)[]);
const highSeries = EMOTIONS.map(() => [] as (number | null)[]);
const viewerSeries = new Map<string, (number | null)[][]>();
const charts: uPlot[] = [];
const started = Date.now() / 1000;

function setStatus(text: string, kind: 'ok' | 'error' | 'info'): void {
  const el = $('status');
  el.textContent = text;
  el.dataset.kind = kind;
}

function log(text: string): void {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $('events').prepend(li);
  while ($('events').children.length > 30) $('events').lastElementChild?.remove();
}

function viewer(id: string): Viewer {
  let v = viewers.get(id);
  if (!v) {
    v = { id, color: PALETTE[viewers.size % PALETTE.length] as string, status: 'live' };
    viewers.set(id, v);
    viewerSeries.set(
      id,
      EMOTIONS.map(() => xs.map(() => null)),
    );
    rebuildCharts();
  }
  return v;
}

function chartData(e: number): uPlot.AlignedData {
  return [
    xs,
    ...[...viewerSeries.values()].map((s) => s[e] as (number | null)[]),
    meanSeries[e] as (number | null)[],
    lowSeries[e] as (number | null)[],
    highSeries[e] as (number | null)[],
  ] as uPlot.AlignedData;
}

function rebuildCharts(): void {
  for (const c of charts.splice(0)) c.destroy();
  const grid = $('charts');
  grid.innerHTML = '';
  EMOTIONS.forEach((name, e) => {
    const cell = document.createElement('figure');
    cell.className = 'chart';
    grid.append(cell);
    const opts: uPlot.Options = {
      title: name,
      width: Math.max(260, Math.floor(grid.clientWidth / 2) - 24),
      height: 170,
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'seconds', size: 30 }, { size: 36 }],
      legend: { show: false },
      series: [
        {},
        ...[...viewers.values()].map((v) => ({
          label: v.id,
          stroke: v.color,
          width: 1.5,
          points: { show: false },
        })),
        { label: 'audience mean', stroke: '#444', width: 3, points: { show: false } },
        { label: 'mean - sd', stroke: '#999', dash: [4, 4], width: 1, points: { show: false } },
        { label: 'mean + sd', stroke: '#999', dash: [4, 4], width: 1, points: { show: false } },
      ],
    };
    charts.push(new uPlot(opts, chartData(e), cell));
  });
  renderLegend();
}

function renderLegend(): void {
  $('legend').innerHTML =
    [...viewers.values()].map((v) => `<span><i style="background:${v.color}"></i>${v.id}</span>`).join('') +
    '<span><i style="background:#444"></i>audience mean (dashed: ± 1 sd)</span>';
}

function renderTable(): void {
  const rows = [...viewers.values()].map((v) => {
    const e = v.latest;
    const cells = e
      ? `<td>${(e.coverage.face * 100).toFixed(0)} %</td><td>${(e.coverage.speech * 100).toFixed(0)} %</td><td>${e.latencyMs.toFixed(0)} ms</td><td>${e.windowEnd.toFixed(0)} s</td>`
      : '<td colspan="4">waiting for the first estimate</td>';
    return `<tr><td><i class="dot" style="background:${v.color}"></i>${v.id}</td><td>${v.status}</td>${cells}</tr>`;
  });
  $('viewers').innerHTML = rows.join('') || '<tr><td colspan="6" class="empty">No viewers yet.</td></tr>';
  $('count').textContent = String([...viewers.values()].filter((v) => v.status === 'live').length);
  $('empty').hidden = viewers.size > 0;
}

function onAggregate(a: { viewers: number; mean: number[]; std: number[] }): void {
  xs.push(Math.round(Date.now() / 1000 - started));
  EMOTIONS.forEach((_, e) => {
    const m = a.mean[e] ?? 0;
    const s = a.std[e] ?? 0;
    meanSeries[e]?.push(m);
    lowSeries[e]?.push(Math.max(0, m - s));
    highSeries[e]?.push(Math.min(1, m + s));
  });
  for (const [id, series] of viewerSeries) {
    const v = viewers.get(id);
    const live = v?.status === 'live' && v.latest;
    for (const [e] of EMOTIONS.entries()) series[e]?.push(live ? (v?.latest?.values[e] ?? null) : null);
  }
  if (xs.length > KEEP_POINTS) {
    xs.shift();
    for (const arr of [...meanSeries, ...lowSeries, ...highSeries]) arr.shift();
    for (const series of viewerSeries.values()) for (const arr of series) arr.shift();
  }
  for (const [e, c] of charts.entries()) c.setData(chartData(e));
}

function connect(room: string): void {
  const ws = new WebSocket(
    endpointUrl(
      location.origin,
      '/v1/stream',
      new URLSearchParams(location.search).get('token') ?? undefined,
    ),
  );
  ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { roomId: room } }));
  ws.onmessage = (event) => {
    const m = JSON.parse(String(event.data));
    if (m.type === 'hello') {
      $('model').textContent = `${m.model.name}@${m.model.version}`;
      $('untrained').hidden = m.model.trained;
    } else if (m.type === 'subscribed') setStatus(`Live · room “${room}”`, 'ok');
    else if (m.type === 'estimate') {
      const v = viewer(m.data.sessionId);
      v.latest = m.data;
      if (m.data.final) v.status = 'ended';
      renderTable();
    } else if (m.type === 'session.started') {
      viewer(m.data.sessionId).status = 'live';
      log(`${m.data.sessionId} joined`);
      renderTable();
    } else if (m.type === 'session.ended') {
      viewer(m.data.sessionId).status = `ended (${m.data.reason})`;
      log(`${m.data.sessionId} left: ${m.data.reason}${m.data.error ? ` (${m.data.error.message})` : ''}`);
      renderTable();
    } else if (m.type === 'room.aggregate') onAggregate(m.data);
    else if (m.type === 'error') setStatus(`${m.code}: ${m.message}`, 'error');
  };
  ws.onclose = () => {
    setStatus('Connection lost; reconnecting…', 'error');
    setTimeout(() => connect(room), 2000);
  };
}

window.addEventListener('DOMContentLoaded', () => {
  const room = new URLSearchParams(location.search).get('room') ?? 'lobby';
  ($('room') as HTMLInputElement).value = room;
  $('room-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.search = `?room=${encodeURIComponent(($('room') as HTMLInputElement).value)}`;
  });
  $('publish-link').setAttribute('href', `/publish?room=${encodeURIComponent(room)}`);
  rebuildCharts();
  renderTable();
  connect(room);
});
