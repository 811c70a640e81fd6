import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { IngestClient, type IngestServerMessage } from '../../packages/client/src/index.js';
import { type EdgeAnalysis, edgeStepBytes, encodeEdgeStep } from '../../src/contracts/edge-steps.js';
import type { Estimate } from '../../src/contracts/estimate.js';
import { blockOffset, type FeatureSpec } from '../../src/contracts/feature-spec.js';
import type { FeatureStep } from '../../src/contracts/feature-step.js';
import { INGEST_KIND, ingestMessage } from '../../src/contracts/ingest-protocol.js';
import { sileroModelPath } from '../../src/features/audio/vad-node.js';
import { faceGraphBytes } from '../../src/features/face/face-networks.js';
import { EriModel } from '../../src/model/model.js';
import { assertClose } from '../helpers.js';
import { mediasoupSkip, startServer, type TestServer } from '../server-harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function analysisOf(spec: FeatureSpec): EdgeAnalysis {
  return {
    mode: 'edge',
    spec: spec.id,
    videoDim: spec.video.dim,
    audioDim: spec.audio.dim,
    rateHz: spec.rateHz ?? 10,
  };
}

/** Deterministic steps with a face on most of them, laid out as the spec says. */
function edgeSteps(spec: FeatureSpec, n: number): FeatureStep[] {
  const face = blockOffset(spec.video, 'face');
  return Array.from({ length: n }, (_, index) => {
    const present = index % 7 !== 3;
    const video = Float32Array.from({ length: spec.video.dim }, (_, i) => Math.sin(index * 0.3 + i * 0.11));
    const audio = Float32Array.from({ length: spec.audio.dim }, (_, i) => Math.cos(index * 0.2 + i * 0.07));
    video[face] = present ? 1 : 0;
    video[face + 1] = present ? 0.9 : 0.2;
    if (!present) video.fill(0, 0, face);
    return {
      index,
      t: index / 10,
      video,
      audio,
      face: present ? { present, confidence: 0.9, box: [0.3, 0.2, 0.4, 0.5] } : { present, confidence: 0.2 },
      speech: (index % 5) / 5,
      audioCoverage: 1,
      hasFrame: true,
    };
  });
}

async function until(messages: IngestServerMessage[], type: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!messages.some((m) => m.type === type) && Date.now() < deadline) await sleep(20);
}

describe('edge mode: feature steps computed by the client', { skip: mediasoupSkip() }, () => {
  let t: TestServer;
  let spec: FeatureSpec;
  let model: EriModel;

  before(async () => {
    t = await startServer();
    spec = t.server.model.card.featureSpec;
    model = await EriModel.load(t.server.model.dir, { engine: 'local' });
  });
  after(async () => {
    await model?.close();
    await t?.stop();
  });

  async function session(id: string, analysis: EdgeAnalysis = analysisOf(spec)) {
    const client = await IngestClient.connect(t.url);
    const messages: IngestServerMessage[] = [];
    client.messages$.subscribe({ next: (m) => messages.push(m), error: () => {} });
    client.start('edge-room', { sessionId: id, analysis });
    await until(messages, 'started', 5000);
    return { client, messages };
  }

  it("runs the model on them: estimates say 'edge', skipped steps count as empty, the final one is the model over every step", async () => {
    const { client, messages } = await session('edge-1');
    assert.equal(messages[0]?.type, 'started', JSON.stringify(messages));
    const steps = edgeSteps(spec, 36);
    // Steps 20-24 never sent (a stall at the viewer): the server fills them as steps without a frame.
    const sent = steps.filter((s) => s.index < 20 || s.index > 24);
    const start = Date.now();
    for (const step of sent) {
      const wait = start + step.index * 100 - Date.now();
      if (wait > 0) await sleep(wait);
      client.features(step);
    }
    client.end();
    await until(messages, 'session.ended');
    const errors = messages.filter((m) => m.type === 'error');
    assert.deepEqual(errors, []);
    const estimates = messages.flatMap((m) => (m.type === 'estimate' ? [m.data as Estimate] : []));
    assert.ok(estimates.length >= 3, `${estimates.length} estimates`);
    assert.ok(estimates.every((e) => e.analysis === 'edge'));
    const final = estimates.find((e) => e.final);
    assert.ok(final, 'a final estimate');
    assert.equal(final.steps, 36);

    const expected = steps.map((s) =>
      s.index >= 20 && s.index <= 24
        ? { ...s, video: new Float32Array(spec.video.dim), audio: new Float32Array(spec.audio.dim) }
        : s,
    );
    const stack = (branch: 'video' | 'audio', dim: number) => {
      const data = new Float32Array(expected.length * dim);
      expected.forEach((s, i) => {
        data.set(s[branch], i * dim);
      });
      return { shape: [expected.length, dim], data };
    };
    const offline = await model.predict({
      video: stack('video', spec.video.dim),
      audio: stack('audio', spec.audio.dim),
    });
    assertClose(final.values, offline.intensities, 1e-4, 'final estimate vs the model over the same steps');
    client.close();
  });

  it("a declared spec other than the model's is refused with ERI_ERR_FEATURE_SPEC_MISMATCH", async () => {
    const { client, messages } = await session('edge-spec', {
      ...analysisOf(spec),
      spec: 'eri-face-audio-v1',
    });
    await until(messages, 'error', 5000);
    const error = messages.find((m) => m.type === 'error');
    assert.equal(error?.type === 'error' && error.code, 'ERI_ERR_FEATURE_SPEC_MISMATCH');
    assert.ok(!messages.some((m) => m.type === 'started'));
    const sized = await session('edge-dims', { ...analysisOf(spec), videoDim: spec.video.dim + 1 });
    await until(sized.messages, 'error', 5000);
    assert.match(JSON.stringify(sized.messages), /video dim/);
    client.close();
    sized.client.close();
  });

  it('untrusted steps get typed errors and never reach the model: size, values, grid, order, rate, kind', async () => {
    const { client, messages } = await session('edge-bad');
    const layout = { videoDim: spec.video.dim, audioDim: spec.audio.dim };
    const good = edgeSteps(spec, 1)[0] as FeatureStep;
    const payload = encodeEdgeStep(good, layout);
    const send = (t: number, bytes: Uint8Array, kind: number = INGEST_KIND.features) =>
      client.raw(ingestMessage(kind as 3, t, bytes));
    const expectError = async (code: string, pattern: RegExp) => {
      const before = messages.filter((m) => m.type === 'error').length;
      const deadline = Date.now() + 5000;
      while (messages.filter((m) => m.type === 'error').length === before && Date.now() < deadline)
        await sleep(10);
      const last = messages.filter((m) => m.type === 'error').at(-1);
      assert.ok(last?.type === 'error', 'an error message');
      assert.equal(last.code, code, last.message);
      assert.match(last.message, pattern);
    };
    send(0, payload.subarray(0, payload.length - 4));
    await expectError('ERI_ERR_MALFORMED_MESSAGE', new RegExp(`${edgeStepBytes(layout)} bytes`));
    const nan = payload.slice();
    new DataView(nan.buffer).setFloat32(4 + 4 * 10, Number.NaN, true);
    send(0, nan);
    await expectError('ERI_ERR_MALFORMED_MESSAGE', /finite/);
    const huge = payload.slice();
    new DataView(huge.buffer).setFloat32(4 + 4 * 10, 1e30, true);
    send(0, huge);
    await expectError('ERI_ERR_MALFORMED_MESSAGE', /within/);
    const confidence = payload.slice();
    new DataView(confidence.buffer).setFloat32(4, 7, true);
    send(0, confidence);
    await expectError('ERI_ERR_MALFORMED_MESSAGE', /\[0, 1\]/);
    send(0.05, payload);
    await expectError('ERI_ERR_MALFORMED_MESSAGE', /grid/);
    send(0, payload);
    send(0, payload);
    await expectError('ERI_ERR_MALFORMED_MESSAGE', /not after/);
    send(0.1, new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), INGEST_KIND.jpeg);
    await expectError('ERI_ERR_INVALID_STATE', /edge mode/);
    send(3600, payload);
    await expectError('ERI_ERR_LIMIT', /ahead/);
    // Far faster than real time: the burst allowance passes, then the rest are refused.
    for (let i = 1; i <= 60; i++) send(i / 10, payload);
    await expectError('ERI_ERR_LIMIT', /real time/);
    client.end();
    await until(messages, 'session.ended');
    const final = messages.flatMap((m) => (m.type === 'estimate' && m.data.final ? [m.data] : []))[0];
    // (How many of the burst got through depends on how fast this machine delivered it; that a burst
    // is refused past its allowance is timed exactly in test/server/edge-step-reader.test.ts.)
    assert.ok(final, 'the session still ends with its final estimate');
    client.close();
  });

  it('a study viewer in edge mode: stimulus events on the same connection, the timeline says edge', async () => {
    const created = await fetch(`${t.url}/v1/studies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Edge study', rooms: ['edge-study'], windowSeconds: 2 }),
    });
    assert.equal(created.status, 201);
    const { study } = (await created.json()) as { study: { id: string } };
    const client = await IngestClient.connect(t.url);
    const messages: IngestServerMessage[] = [];
    client.messages$.subscribe({ next: (m) => messages.push(m), error: () => {} });
    client.start('edge-study', { sessionId: 'edge-viewer', studyId: study.id, analysis: analysisOf(spec) });
    await until(messages, 'started', 5000);
    const start = Date.now();
    for (const step of edgeSteps(spec, 40)) {
      const wait = start + step.index * 100 - Date.now();
      if (wait > 0) await sleep(wait);
      if (step.index === 5) client.stimulus('play', 0, 0.5);
      client.features(step);
    }
    client.end();
    await until(messages, 'session.ended');
    assert.ok(messages.some((m) => m.type === 'stimulus.marked'));
    const { timeline } = (await (await fetch(`${t.url}/v1/studies/${study.id}/timeline`)).json()) as {
      timeline: { viewers: { sessionId: string; analysis: string; seconds: Record<string, number[]> }[] };
    };
    assert.deepEqual(
      timeline.viewers.map((v) => [v.sessionId, v.analysis]),
      [['edge-viewer', 'edge']],
    );
    assert.ok(Object.keys(timeline.viewers[0]?.seconds ?? {}).length >= 2);
    client.close();
  });

  it("serves the graphs an edge page runs, byte for byte the server's own, and only its runtime files", async () => {
    for (const id of ['mesh', 'eyeCrops'] as const) {
      const res = await fetch(`${t.url}/v1/edge/graphs/${id}`);
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('etag'));
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(await faceGraphBytes(id)));
    }
    const vad = await fetch(`${t.url}/v1/edge/graphs/vad`);
    assert.deepEqual(Buffer.from(await vad.arrayBuffer()), await readFile(sileroModelPath()));
    const unknown = await fetch(`${t.url}/v1/edge/graphs/secrets`);
    assert.equal(unknown.status, 400);
    assert.equal(((await unknown.json()) as { code: string }).code, 'ERI_ERR_INVALID_ARGUMENT');
    const wasm = await fetch(`${t.url}/v1/edge/runtime/ort-wasm-simd-threaded.wasm`);
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    await wasm.arrayBuffer();
    // The WebGPU backend's build (opt-in on the edge page) is served; the builds nothing loads are not.
    const asyncify = await fetch(`${t.url}/v1/edge/runtime/ort-wasm-simd-threaded.asyncify.mjs`);
    assert.equal(asyncify.status, 200);
    await asyncify.arrayBuffer();
    for (const path of [
      'ort.min.js',
      'ort.all.min.js.map',
      '..%2Fpackage.json',
      'ort-wasm-simd-threaded.jsep.wasm',
    ])
      assert.equal((await fetch(`${t.url}/v1/edge/runtime/${path}`)).status, 404, path);
  });

  it('a media session refuses feature steps', async () => {
    const client = await IngestClient.connect(t.url);
    const messages: IngestServerMessage[] = [];
    client.messages$.subscribe({ next: (m) => messages.push(m), error: () => {} });
    client.start('edge-room', { sessionId: 'media-1' });
    await until(messages, 'started', 5000);
    const step = edgeSteps(spec, 1)[0] as FeatureStep;
    client.raw(ingestMessage(INGEST_KIND.features, 0, encodeEdgeStep(step, analysisOf(spec))));
    await until(messages, 'error', 5000);
    const error = messages.find((m) => m.type === 'error');
    assert.equal(error?.type === 'error' && error.code, 'ERI_ERR_INVALID_STATE');
    client.close();
  });
});
