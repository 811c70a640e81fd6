import type * as EriEdge from './edge-bundle.js';

/**
 * Loads the edge library (`/public/edge.js`) into a page only when edge mode is chosen: pages that
 * publish media never download onnxruntime-web.
 */

export type EdgeLibrary = typeof EriEdge;

/** `?analysis=edge` on a page's address asks for edge mode. */
export function edgeModeRequested(params: URLSearchParams): boolean {
  return params.get('analysis') === 'edge';
}

export function loadEdgeLibrary(): Promise<EdgeLibrary> {
  const loaded = (globalThis as { EriEdge?: EdgeLibrary }).EriEdge;
  if (loaded) return Promise.resolve(loaded);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = '/public/edge.js';
    script.onload = () => {
      const lib = (globalThis as { EriEdge?: EdgeLibrary }).EriEdge;
      if (lib) resolve(lib);
      else reject(new Error('the edge library did not load'));
    };
    script.onerror = () => reject(new Error('cannot load /public/edge.js'));
    document.head.append(script);
  });
}
