import WebSocket from 'ws';

/**
 * Child process of `eri bench fanout`: opens N subscribers to /v1/stream (all sessions), counts what they
 * receive for the measurement window and the delivery latency (receive time - the estimate's wallTime),
 * then prints one JSON line. argv: <url> <subscribers> <seconds>
 */

const [url, countArg, secondsArg] = process.argv.slice(2) as [string, string, string];
const count = Number(countArg);
const seconds = Number(secondsArg);
const sockets: WebSocket[] = [];
let received = 0;
let measuring = false;
const latencies: number[] = [];

async function open(i: number): Promise<void> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/stream`, { perMessageDeflate: false });
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'subscribe', id: 1, target: { all: true } }));
  // Sample latency on a few sockets only, so parsing does not dominate the client's CPU.
  const sample = i % 50 === 0;
  ws.on('message', (data) => {
    if (!measuring) return;
    received++;
    if (sample) {
      const text = String(data);
      const at = text.indexOf('"wallTime":"');
      if (at >= 0) latencies.push(Date.now() - Date.parse(text.slice(at + 12, at + 36)));
    }
  });
}

for (let i = 0; i < count; i += 200)
  await Promise.all(Array.from({ length: Math.min(200, count - i) }, (_, k) => open(i + k)));
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
await new Promise((r) => setTimeout(r, 1000));
measuring = true;
const started = Date.now();
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const cpu = process.cpuUsage(cpu0);
const elapsed = (Date.now() - started) / 1000;
// The subscribers share the server's machine: when this process is busy, latency is partly its own.
const cpuPercent = (100 * (cpu.user + cpu.system)) / 1e6 / elapsed;
latencies.sort((a, b) => a - b);
const q = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor(p * (latencies.length - 1)))] ?? 0;
process.stdout.write(
  `${JSON.stringify({ received, perSecond: received / elapsed, p50: q(0.5), p99: q(0.99), samples: latencies.length, cpuPercent })}\n`,
);
for (const ws of sockets) ws.terminate();
process.exit(0);
