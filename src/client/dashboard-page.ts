import uPlot from 'uplot';
import { EriStreamClient } from '../../packages/client/src/index.js';
import type { Estimate } from '../contracts/estimate.js';
import { estimatesResponse, sessionPageResponse } from '../contracts/rest-api.js';
import { showModel } from './model-badge.js';

/**
 * The dashboard (bundled by esbuild into dist/public/dashboard.js). Live: one chart per emotion with a
 * line per viewer and the audience mean with its spread, a table of viewers (coverage, latency, status),
 * and session events, from the room's stream through the client package (which resumes after a
 * reconnect and says why a token was refused). After the fact: the room's sessions from /v1/sessions,
 * and an ended one's estimates over its whole run. The emotions come from the server's hello; the
 * token (?token=) is kept on every link and request.
 */

/** The server's emotion order; the hello replaces it before the first estimate arrives. */
let emotionNames: readonly string[] = [];
// Okabe-Ito: distinguishable with the common colour-vision deficiencies.
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const KEEP_POINTS = 300;

interface Viewer {
  id: string;
  color: string;
  latest?: Estimate;
  status: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const viewers = new Map<string, Viewer>();
const xs: number[] = [];
let meanSeries: (number | null)[][] = [];
let lowSeries: (number | null)[][] = [];
let highSeries: (number | null)[][] = [];
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
      emotionNames.map(() => xs.map(() => null)),
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
  emotionNames.forEach((name, e) => {
    const cell = document.createElement('figure');
    cell.className = 'chart';
    grid.append(cell);
    const opts: uPlot.Options = {
      title: name,
      width: Math.max(260, Math.floor(grid.clientWidth / 2) - 24),
      height: 170,
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ label: 'seconds', size: 30 }, { size: 44 }],
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
    const mode = e ? (e.analysis === 'edge' ? 'in browser' : 'server') : '–';
    return `<tr><td><i class="dot" style="background:${v.color}"></i>${v.id}</td><td>${v.status}</td><td>${mode}</td>${cells}</tr>`;
  });
  $('viewers').innerHTML = rows.join('') || '<tr><td colspan="7" class="empty">No viewers yet.</td></tr>';
  $('count').textContent = String([...viewers.values()].filter((v) => v.status === 'live').length);
  $('empty').hidden = viewers.size > 0;
}

function onAggregate(a: { viewers: number; mean: number[]; std: number[] }): void {
  xs.push(Math.round(Date.now() / 1000 - started));
  emotionNames.forEach((_, e) => {
    const m = a.mean[e] ?? 0;
    const s = a.std[e] ?? 0;
    meanSeries[e]?.push(m);
    lowSeries[e]?.push(Math.max(0, m - s));
    highSeries[e]?.push(Math.min(1, m + s));
  });
  for (const [id, series] of viewerSeries) {
    const v = viewers.get(id);
    const live = v?.status === 'live' && v.latest;
    for (const [e] of emotionNames.entries()) series[e]?.push(live ? (v?.latest?.values[e] ?? null) : null);
  }
  if (xs.length > KEEP_POINTS) {
    xs.shift();
    for (const arr of [...meanSeries, ...lowSeries, ...highSeries]) arr.shift();
    for (const series of viewerSeries.values()) for (const arr of series) arr.shift();
  }
  for (const [e, c] of charts.entries()) c.setData(chartData(e));
}

const params = new URLSearchParams(location.search);
const TOKEN = params.get('token') ?? undefined;

/** A same-origin URL with the token kept, so navigating never loses it. */
function withToken(path: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (TOKEN) q.set('token', TOKEN);
  const query = q.toString();
  return query ? `${path}?${query}` : path;
}

async function api<T>(path: string, schema: { parse(v: unknown): T }): Promise<T> {
  const r = await fetch(path, TOKEN ? { headers: { authorization: `Bearer ${TOKEN}` } } : {});
  const body = await r.json();
  if (!r.ok) throw new Error(`${body.code ?? r.status}: ${body.message ?? r.statusText}`);
  return schema.parse(body);
}

function setEmotions(emotions: readonly string[]): void {
  if (emotions.join() === emotionNames.join()) return;
  emotionNames = emotions;
  meanSeries = emotionNames.map(() => xs.map(() => null));
  lowSeries = emotionNames.map(() => xs.map(() => null));
  highSeries = emotionNames.map(() => xs.map(() => null));
  for (const id of viewerSeries.keys())
    viewerSeries.set(
      id,
      emotionNames.map(() => xs.map(() => null)),
    );
  rebuildCharts();
}

async function renderSessions(room: string): Promise<void> {
  try {
    const page = await api(`/v1/sessions?${new URLSearchParams({ room, limit: '50' })}`, sessionPageResponse);
    $('sessions').innerHTML =
      page.sessions
        .map((s) => {
          const when = new Date(s.startedAt).toLocaleTimeString();
          const state = s.live ? 'live' : `ended (${s.endReason ?? '?'})`;
          const link = s.live
            ? ''
            : ` <a href="${withToken('/dashboard', { room, session: s.sessionId })}">history</a>`;
          return `<tr><td>${s.sessionId}</td><td>${state}</td><td>${when}</td><td>${s.estimates}${link}</td></tr>`;
        })
        .join('') || '<tr><td colspan="4" class="empty">No sessions in this room yet.</td></tr>';
  } catch (error) {
    $('sessions').innerHTML = '<tr><td colspan="4" class="empty"></td></tr>';
    ($('sessions').querySelector('td') as HTMLElement).textContent = (error as Error).message;
  }
}

/** An ended session over its whole run: one line per emotion against media time. */
async function showHistory(sessionId: string): Promise<void> {
  $('history').hidden = false;
  $('history-title').textContent = `Session ${sessionId}`;
  try {
    const h = await api(`/v1/sessions/${encodeURIComponent(sessionId)}/estimates`, estimatesResponse);
    const running = h.estimates.filter((e) => !e.final);
    const final = h.estimates.find((e) => e.final);
    $('history-summary').textContent = final
      ? `${running.length} running estimates; final: ${h.emotions.map((name, i) => `${name} ${(final.values[i] ?? 0).toFixed(2)}`).join(', ')}`
      : `${running.length} running estimates`;
    const chart = $('history-chart');
    chart.innerHTML = '';
    new uPlot(
      {
        width: Math.max(320, chart.clientWidth - 8),
        height: 260,
        scales: { x: { time: false }, y: { range: [0, 1] } },
        axes: [{ label: 'media seconds', size: 30 }, { size: 36 }],
        series: [
          {},
          ...h.emotions.map((name, i) => ({
            label: name,
            stroke: PALETTE[i % PALETTE.length] as string,
            width: 1.5,
            points: { show: false },
          })),
        ],
      },
      [running.map((e) => e.windowEnd), ...h.emotions.map((_, i) => running.map((e) => e.values[i] ?? null))],
      chart,
    );
  } catch (error) {
    $('history-summary').textContent = (error as Error).message;
  }
}

function follow(room: string): void {
  const client = new EriStreamClient(location.origin, { ...(TOKEN ? { token: TOKEN } : {}) });
  client.hello$.subscribe((hello) => {
    showModel(hello.model);
    setEmotions(hello.emotions);
  });
  client.state$.subscribe((s) => {
    if (s.status === 'open') setStatus(`Live · room “${room}”`, 'ok');
    else if (s.status === 'reconnecting')
      setStatus(`Connection lost; reconnecting (attempt ${s.attempt})…`, 'error');
    else if (s.status === 'failed' && s.error)
      setStatus(
        `${s.error.code}: ${s.error.message}${s.error.code === 'ERI_ERR_UNAUTHENTICATED' ? ' (open the dashboard with a valid ?token=)' : ''}`,
        'error',
      );
  });
  client.events({ roomId: room }).subscribe({
    next: (m) => {
      if (m.type === 'estimate') {
        const v = viewer(m.data.sessionId);
        v.latest = m.data;
        if (m.data.final) v.status = 'ended';
        renderTable();
      } else if (m.type === 'session.started') {
        viewer(m.data.sessionId).status = 'live';
        log(`${m.data.sessionId} joined`);
        renderTable();
        void renderSessions(room);
      } else if (m.type === 'session.ended') {
        viewer(m.data.sessionId).status = `ended (${m.data.reason})`;
        log(`${m.data.sessionId} left: ${m.data.reason}${m.data.error ? ` (${m.data.error.message})` : ''}`);
        renderTable();
        void renderSessions(room);
      } else if (m.type === 'room.aggregate') onAggregate(m.data);
    },
    error: (error: { code?: string; message: string }) =>
      setStatus(`${error.code ?? 'error'}: ${error.message}`, 'error'),
  });
}

window.addEventListener('DOMContentLoaded', () => {
  const room = params.get('room') ?? 'lobby';
  ($('room') as HTMLInputElement).value = room;
  $('room-form').addEventListener('submit', (e) => {
    e.preventDefault();
    location.href = withToken('/dashboard', { room: ($('room') as HTMLInputElement).value });
  });
  $('publish-link').setAttribute('href', withToken('/publish', { room }));
  rebuildCharts();
  renderTable();
  void renderSessions(room);
  const session = params.get('session');
  if (session) void showHistory(session);
  follow(room);
});
