import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as mediasoup from 'mediasoup';
import type { DirectTransport, Router, WebRtcTransport, Worker } from 'mediasoup/types';
import { WebSocketServer } from 'ws';
import { edgeStepBytes } from '../contracts/edge-steps.js';
import { ERI_FACE_AUDIO_SPEC } from '../contracts/feature-spec.js';
import { INGEST_HEADER_BYTES } from '../contracts/ingest-protocol.js';
import type { SignalResponse } from '../contracts/signalling.js';
import { EriError } from '../errors.js';
import { MEDIA_CODECS, mediasoupWorkerBin } from '../ingest/media-workers.js';
import type { DistributiveOmit } from '../util/distributive-omit.js';
import { launchChromium } from './chromium.js';
import type {
  EdgeTransportKind,
  EdgeTransportRun,
  EdgeTransportRunResult,
} from './edge-transport-protocol.js';
import { describeMachine, machineInfo, type Summary, summarize, table } from './harness.js';
import { descendantsNamed, processCpuSeconds } from './proc-usage.js';

/**
 * `eri bench edge-transport`: which transport should carry an edge page's feature steps, the frame
 * ingest WebSocket or a mediasoup DataChannel? N simulated edge publishers in one headless Chromium
 * page send one step's bytes (1,816, as the edge page sends them) every 100 ms, each over its own
 * WebSocket or its own DataChannel (WebRTC transport with SCTP on loopback -> mediasoup -> a
 * DirectTransport data consumer in Node). The server only receives and times them, so the figures are
 * each transport's own cost: the one-way latency on the machine's one clock, the server's CPU (Node and
 * the mediasoup worker) and the browser's, per 1,000 steps.
 */

export interface EdgeTransportRow {
  transport: EdgeTransportKind;
  sessions: number;
  sent: number;
  received: number;
  /** Send (page) -> receive (server) in ms. */
  latency: Summary;
  /** Server CPU seconds per 1,000 steps: this Node process and the mediasoup worker apart. */
  nodeCpuPer1000: number;
  mediasoupCpuPer1000: number;
  browserCpuPer1000: number;
  setupSeconds: number;
}

export interface EdgeTransportResult {
  machine: ReturnType<typeof machineInfo>;
  seconds: number;
  stepBytes: number;
  rows: EdgeTransportRow[];
}

const PAGE_SCRIPT = fileURLToPath(new URL('../../bench-public/edge-transport.js', import.meta.url));

/** The receiving side of both transports: steps counted, and each one's one-way latency. */
class Receiver {
  readonly latencies: number[] = [];
  received = 0;
  #recording = false;

  record(message: Buffer): void {
    if (!this.#recording || message.length < 12) return;
    this.received++;
    this.latencies.push(performance.timeOrigin + performance.now() - message.readDoubleLE(0));
  }

  /** Counts from zero again. */
  start(): void {
    this.latencies.length = 0;
    this.received = 0;
    this.#recording = true;
  }

  stop(): void {
    this.#recording = false;
  }
}

/** The bench's server: its page, the step WebSockets, and a minimal signalling for DataChannels. */
async function startServer(
  router: Router,
  receiver: Receiver,
  script: string,
): Promise<{ http: Server; origin: string }> {
  const http = createServer((req, res) => {
    if (req.url === '/edge-transport.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html' })
      .end('<!doctype html><script src="/edge-transport.js"></script>');
  });
  const wss = new WebSocketServer({ server: http, maxPayload: 64 * 1024 });
  const direct: DirectTransport = await router.createDirectTransport();
  wss.on('connection', (ws, req) => {
    if (req.url?.startsWith('/steps')) {
      ws.on('message', (data) => receiver.record(data as Buffer));
      return;
    }
    let transport: WebRtcTransport | undefined;
    ws.on('close', () => transport?.close());
    ws.on('message', async (data) => {
      const { id, method, params } = JSON.parse(String(data)) as {
        id: number;
        method: string;
        params: never;
      };
      // The signalling protocol's response shape, which the page's SignalRequests reads.
      const reply = (r: DistributiveOmit<SignalResponse, 'id'>) => ws.send(JSON.stringify({ id, ...r }));
      try {
        if (method === 'capabilities') return reply({ ok: true, result: router.rtpCapabilities });
        if (method === 'createTransport') {
          transport = await router.createWebRtcTransport({
            listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
            enableSctp: true,
          });
          const { id: tid, iceParameters, iceCandidates, dtlsParameters, sctpParameters } = transport;
          return reply({
            ok: true,
            result: { id: tid, iceParameters, iceCandidates, dtlsParameters, sctpParameters },
          });
        }
        if (!transport) throw new Error('no transport yet');
        if (method === 'connect') {
          await transport.connect(params);
          return reply({ ok: true, result: {} });
        }
        if (method === 'produceData') {
          const producer = await transport.produceData(params);
          const consumer = await direct.consumeData({ dataProducerId: producer.id });
          consumer.on('message', (message) => receiver.record(message));
          return reply({ ok: true, result: { id: producer.id } });
        }
        throw new Error(`unknown method ${method}`);
      } catch (error) {
        reply({ ok: false, error: { code: 'ERI_ERR_INVALID_ARGUMENT', message: (error as Error).message } });
      }
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return { http, origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

/** CPU of the bench's own browser: the chromium processes under this one (renderers and GPU process too). */
async function chromiumCpuSeconds(): Promise<number> {
  const pids = await descendantsNamed(process.pid, 'chromium');
  let total = 0;
  for (const pid of pids) total += await processCpuSeconds(pid);
  return total;
}

export async function runEdgeTransportBench(o: {
  sessions?: number[];
  seconds?: number;
  transports?: EdgeTransportKind[];
}): Promise<EdgeTransportResult> {
  const sessions = o.sessions ?? [16, 64, 128];
  const seconds = o.seconds ?? 20;
  const transports = o.transports ?? ['websocket', 'datachannel'];
  if (!existsSync(PAGE_SCRIPT))
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', `no ${PAGE_SCRIPT}: run npm run build`);
  const stepBytes =
    INGEST_HEADER_BYTES +
    edgeStepBytes({ videoDim: ERI_FACE_AUDIO_SPEC.video.dim, audioDim: ERI_FACE_AUDIO_SPEC.audio.dim });
  const worker: Worker = await mediasoup.createWorker({
    logLevel: 'error',
    workerBin: mediasoupWorkerBin(),
    rtcMinPort: 40000,
    rtcMaxPort: 49999,
  });
  // Whatever fails, the worker, the server's port and the browser are released.
  let http: Server | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  const rows: EdgeTransportRow[] = [];
  try {
    const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const receiver = new Receiver();
    const started = await startServer(router, receiver, await readFile(PAGE_SCRIPT, 'utf8'));
    http = started.http;
    const { origin } = started;
    // A camera, as an edge page holds one (Chromium's own pattern: the page only asks for it).
    browser = await launchChromium({ camera: 'pattern' });
    for (const n of sessions) {
      for (const transport of transports) {
        const page = await browser.newPage();
        await page.goto(origin);
        const t0 = performance.now();
        const run: EdgeTransportRun = { transport, server: origin, sessions: n, seconds, stepBytes };
        const before = { node: process.cpuUsage(), ms: await processCpuSeconds(worker.pid), browser: 0 };
        receiver.start();
        before.browser = await chromiumCpuSeconds();
        const result = (await page.evaluate(
          (r) =>
            (
              globalThis as unknown as {
                runEdgeTransportBench(r: EdgeTransportRun): Promise<EdgeTransportRunResult>;
              }
            ).runEdgeTransportBench(r),
          run,
        )) as EdgeTransportRunResult;
        // What is still in flight arrives within a few hundred ms on loopback.
        await new Promise((r) => setTimeout(r, 500));
        receiver.stop();
        const node = process.cpuUsage(before.node);
        const per1000 = 1000 / Math.max(1, receiver.received);
        rows.push({
          transport,
          sessions: n,
          sent: result.sent,
          received: receiver.received,
          latency: summarize(receiver.latencies),
          nodeCpuPer1000: ((node.user + node.system) / 1e6) * per1000,
          mediasoupCpuPer1000: ((await processCpuSeconds(worker.pid)) - before.ms) * per1000,
          browserCpuPer1000: ((await chromiumCpuSeconds()) - before.browser) * per1000,
          setupSeconds: (performance.now() - t0) / 1000 - seconds - 0.5,
        });
        await page.close();
      }
    }
  } finally {
    await browser?.close();
    http?.closeAllConnections();
    http?.close();
    worker.close();
  }
  return { machine: machineInfo(), seconds, stepBytes, rows };
}

export function formatEdgeTransport(r: EdgeTransportResult): string {
  return [
    describeMachine(r.machine),
    `${r.seconds} s per run, one ${r.stepBytes}-byte step every 100 ms per session, from headless Chromium on loopback; CPU seconds per 1,000 steps`,
    '',
    table([
      [
        'transport',
        'sessions',
        'sent',
        'received',
        'latency p50/p95/p99 ms',
        'server Node',
        'mediasoup worker',
        'browser',
        'setup s',
      ],
      ...r.rows.map((x) => [
        x.transport,
        String(x.sessions),
        String(x.sent),
        String(x.received),
        `${x.latency.medianMs.toFixed(2)} / ${x.latency.p95Ms.toFixed(2)} / ${x.latency.p99Ms.toFixed(2)}`,
        x.nodeCpuPer1000.toFixed(3),
        x.mediasoupCpuPer1000.toFixed(3),
        x.browserCpuPer1000.toFixed(3),
        x.setupSeconds.toFixed(1),
      ]),
    ]),
  ].join('\n');
}
