import type { RtpParameters } from 'mediasoup/types';

/**
 * The SDP ffmpeg reads to receive a consumer's RTP: one m-line per consumer, on the port pair the
 * consumer's PlainTransport sends to (RTP on `port`, RTCP on `port + 1`: ffmpeg has no RTCP-mux).
 */

export interface SdpMedia {
  kind: 'audio' | 'video';
  port: number;
  rtpParameters: RtpParameters;
}

export function consumerSdp(media: readonly SdpMedia[], ip = '127.0.0.1'): string {
  const lines = ['v=0', `o=- 0 0 IN IP4 ${ip}`, 's=eri-stream tap', `c=IN IP4 ${ip}`, 't=0 0'];
  for (const m of media) {
    const codec = m.rtpParameters.codecs[0];
    if (!codec) continue;
    const name = codec.mimeType.split('/')[1] ?? '';
    const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
    lines.push(`m=${m.kind} ${m.port} RTP/AVP ${codec.payloadType}`);
    lines.push(`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`);
    const fmtp = Object.entries(codec.parameters ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${codec.payloadType} ${fmtp}`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}
