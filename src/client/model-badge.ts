import type { ModelInfo } from '../contracts/model-info.js';

/**
 * The model line both pages show: name@version, and what the numbers are. A proxy model says so
 * plainly, with its card one click away; an untrained one is flagged as meaningless.
 * Expects #model, #model-kind (a link) and #untrained in the page.
 */
export function showModel(model: ModelInfo): void {
  const el = (id: string) => document.getElementById(id) as HTMLElement;
  el('model').textContent = `${model.name}@${model.version}`;
  el('untrained').hidden = model.trained;
  const kind = el('model-kind') as HTMLAnchorElement;
  kind.href = model.card; // public: no token needed, none leaked into a link
  kind.textContent = model.proxy
    ? 'proxy model: expression intensities, not self-reported reactions (read the card)'
    : 'model card';
  kind.classList.toggle('warn', model.proxy);
  kind.hidden = false;
}

/** What the server says about its model, before any stream or session exists. */
export async function fetchModel(): Promise<ModelInfo> {
  const response = await fetch('/v1/model');
  if (!response.ok) throw new Error(`GET /v1/model: HTTP ${response.status}`);
  return ((await response.json()) as { model: ModelInfo }).model;
}
