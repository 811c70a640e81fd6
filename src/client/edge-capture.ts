import { Observable } from 'rxjs';
import type { AudioChunk, VideoFrame } from '../../streams/align-media.js';
import { AUDIO_SAMPLE_RATE } from '../contracts/media-step.js';

/**
 * Edge mode's capture in the browser: the camera sampled once per analysis step, scaled to fit and
 * letterboxed into the analysis size (as the server's ffmpeg does: scale, then pad centred), and the
 * microphone as 16 kHz mono chunks, both on one media clock that starts when capture does. A frame is
 * stamped with its step's start (k / rate), as the server's WebRTC tap stamps its frames, so the aligner
 * settles each step's video at once.
 */

/** Frames of `video`, one per step, RGB at `size`. */
export function cameraFrames(
  video: HTMLVideoElement,
  size: { width: number; height: number },
  rateHz: number,
  startedAt: number,
): Observable<VideoFrame> {
  return new Observable<VideoFrame>((subscriber) => {
    const canvas = document.createElement('canvas');
    canvas.width = size.width;
    canvas.height = size.height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) {
      subscriber.error(new Error('no 2D canvas in this browser'));
      return;
    }
    let next = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grab = () => {
      const k = Math.max(next, Math.floor(((performance.now() - startedAt) / 1000) * rateHz));
      if (video.videoWidth > 0) {
        const scale = Math.min(size.width / video.videoWidth, size.height / video.videoHeight);
        const w = Math.round(video.videoWidth * scale);
        const h = Math.round(video.videoHeight * scale);
        ctx.fillStyle = '#000';
        ctx.fillRect(0, 0, size.width, size.height);
        ctx.drawImage(video, Math.floor((size.width - w) / 2), Math.floor((size.height - h) / 2), w, h);
        const rgba = ctx.getImageData(0, 0, size.width, size.height).data;
        const rgb = new Uint8Array(size.width * size.height * 3);
        for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
          rgb[j] = rgba[i] as number;
          rgb[j + 1] = rgba[i + 1] as number;
          rgb[j + 2] = rgba[i + 2] as number;
        }
        subscriber.next({ t: k / rateHz, rgb });
      }
      next = k + 1;
      // Aim just after the next step starts, whatever this one cost.
      timer = setTimeout(grab, Math.max(0, startedAt + (next / rateHz) * 1000 + 5 - performance.now()));
    };
    grab();
    return () => clearTimeout(timer);
  });
}

/** An AudioWorklet that posts its input's first channel, 128 samples at a time. */
const TAP_WORKLET = `registerProcessor('eri-tap', class extends AudioWorkletProcessor {
  process(inputs) { const c = inputs[0] && inputs[0][0]; if (c) this.port.postMessage(c.slice(0)); return true; }
});`;

/**
 * The microphone of `stream` at 16 kHz mono, in chunks of `chunkSamples`, timed by samples counted
 * from where the first chunk falls on the media clock (the audio graph starts a little after capture).
 */
export function microphoneChunks(
  stream: MediaStream,
  startedAt: number,
  chunkSamples = AUDIO_SAMPLE_RATE / 10,
): Observable<AudioChunk> {
  return new Observable<AudioChunk>((subscriber) => {
    // The browser resamples to the context's rate: 16 kHz is what the features are defined at.
    const context = new AudioContext({ sampleRate: AUDIO_SAMPLE_RATE });
    let closed = false;
    const url = URL.createObjectURL(new Blob([TAP_WORKLET], { type: 'text/javascript' }));
    context.audioWorklet
      .addModule(url)
      .then(() => {
        if (closed) return;
        const source = context.createMediaStreamSource(stream);
        const tap = new AudioWorkletNode(context, 'eri-tap');
        let pending = new Float32Array(chunkSamples);
        let filled = 0;
        let sent = -1;
        tap.port.onmessage = (event: MessageEvent<Float32Array>) => {
          const samples = event.data;
          if (sent < 0) {
            const now = Math.round(((performance.now() - startedAt) / 1000) * AUDIO_SAMPLE_RATE);
            sent = Math.max(0, now - samples.length);
          }
          for (let at = 0; at < samples.length; ) {
            const n = Math.min(samples.length - at, chunkSamples - filled);
            pending.set(samples.subarray(at, at + n), filled);
            filled += n;
            at += n;
            if (filled === chunkSamples) {
              subscriber.next({ t: sent / AUDIO_SAMPLE_RATE, samples: pending });
              sent += chunkSamples;
              pending = new Float32Array(chunkSamples);
              filled = 0;
            }
          }
        };
        source.connect(tap);
      })
      .catch((error: unknown) => subscriber.error(error));
    return () => {
      closed = true;
      URL.revokeObjectURL(url);
      context.close().catch(() => {});
    };
  });
}
