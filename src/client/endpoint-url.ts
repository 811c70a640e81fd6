/**
 * The WebSocket URL of an endpoint from a server's http(s) or ws(s) base URL, with the token as the
 * `access_token` query parameter (browsers cannot set an Authorization header on a WebSocket).
 */
export function endpointUrl(base: string, path: string, token?: string): string {
  const url = `${base.replace(/^http/, 'ws').replace(/\/$/, '')}${path}`;
  return token ? `${url}?access_token=${encodeURIComponent(token)}` : url;
}
