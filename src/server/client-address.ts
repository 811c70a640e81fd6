import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';

/**
 * The address a request came from, for per-address limits. Behind proxies, `X-Forwarded-For` is read
 * from the right: each hop appends the address it saw, so only the entries added by proxies we trust
 * are believed, and the first address a trusted proxy reported is the client. The leftmost entry is
 * whatever the client wrote and is never taken on its own word.
 */
export type AddressOf = (req: IncomingMessage) => string;

/**
 * `trusted`: the proxies' addresses or CIDR ranges (or proxy-addr's `loopback`, `uniquelocal`);
 * `trustPeer`: trust only the immediate peer, one hop (ERI_TRUST_PROXY, for a single proxy whose
 * address is not known in advance). Neither: the socket's own peer.
 */
export function clientAddress(options: { trusted?: readonly string[]; trustPeer?: boolean }): AddressOf {
  const trust =
    options.trusted && options.trusted.length > 0
      ? proxyaddr.compile([...options.trusted])
      : options.trustPeer
        ? (_addr: string, hop: number) => hop < 1
        : undefined;
  return (req) => {
    if (!trust) return req.socket.remoteAddress ?? 'unknown';
    return proxyaddr(req, trust) || 'unknown';
  };
}
