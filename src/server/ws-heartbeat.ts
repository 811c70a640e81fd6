import type { WebSocket } from 'ws';

/**
 * Pings a WebSocket every `everyMs` and calls `onDead` (then terminates the socket) when a ping went
 * unanswered for a whole period: a peer that vanished without closing (a sleeping laptop, a frozen
 * process, a cut network) is found within two periods. The one heartbeat of every endpoint.
 */
export function keepAlive(
  ws: WebSocket,
  everyMs: number,
  hooks: { onDead?: () => void; onBeat?: () => void } = {},
): () => void {
  let alive = true;
  const onPong = () => {
    alive = true;
  };
  ws.on('pong', onPong);
  const timer = setInterval(() => {
    if (!alive) {
      stop();
      hooks.onDead?.();
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
    hooks.onBeat?.();
  }, everyMs);
  const stop = () => {
    clearInterval(timer);
    ws.off('pong', onPong);
  };
  return stop;
}
