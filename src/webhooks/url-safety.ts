/**
 * Which URLs a webhook may point at: https to a public host. The WHATWG URL parser already
 * turns numeric IPv4 forms (`2130706433`, `0x7f.1`, `017700000001`, `127.1`) into dotted quads
 * and IPv4-mapped IPv6 into hex groups, so checking the parsed hostname covers them.
 *
 *   const url = checkWebhookUrl('https://hooks.example.com/delega', { development: false });
 *
 * Host names are allowed as given: a Worker cannot resolve DNS before fetching, and its
 * outbound fetches leave from Cloudflare's network, not from ours.
 */
import { ApiError } from '../platform/errors';

const MAX_URL_LENGTH = 2048;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Names that always mean "this machine" or a cloud metadata service. */
const BLOCKED_NAMES = [/^localhost$/, /\.localhost$/, /^metadata\.google\.internal$/, /^metadata$/, /\.internal$/];

const unsafe = (reason: string) =>
  new ApiError({
    status: 400,
    code: 'UNSAFE_WEBHOOK_URL',
    message: `Webhook URL refused: ${reason}`,
    details: [{ field: 'url', message: reason }],
  });

/** Returns the normalised URL, or throws UNSAFE_WEBHOOK_URL saying why. */
export function checkWebhookUrl(raw: string, opts: { development: boolean }): string {
  if (raw.length > MAX_URL_LENGTH) throw unsafe(`longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw unsafe('not a valid absolute URL');
  }
  if (url.username || url.password) throw unsafe('credentials in the URL are not allowed; sign with the webhook secret instead');
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  const devLoopback = opts.development && LOOPBACK_HOSTS.has(host);
  if (url.protocol === 'http:') {
    if (!devLoopback)
      throw unsafe(opts.development ? 'http is only allowed to localhost, 127.0.0.1 and [::1]; use https' : 'https is required');
  } else if (url.protocol !== 'https:') {
    throw unsafe('https is required');
  }
  if (devLoopback) return url.href;
  if (host === '') throw unsafe('no host');
  const reason = hostRefusal(host);
  if (reason) throw unsafe(reason);
  return url.href;
}

/** Why a parsed hostname is not a public destination, or null when it is. */
export function hostRefusal(host: string): string | null {
  if (host.startsWith('[')) return ipv6Refusal(parseIpv6(host.slice(1, -1)));
  const v4 = parseIpv4(host);
  if (v4 !== null) return ipv4Refusal(v4);
  if (BLOCKED_NAMES.some((re) => re.test(host))) return `${host} is a local or metadata host name`;
  return null;
}

function parseIpv4(host: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

/** [first address, prefix length, what it is] of every non-public IPv4 range. */
const IPV4_BLOCKS: [string, number, string][] = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local or metadata address'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'a reserved address'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved or broadcast address'],
];

function ipv4Refusal(addr: number): string | null {
  for (const [base, bits, what] of IPV4_BLOCKS) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((addr & mask) >>> 0 === parseIpv4(base)) return `the host is ${what}`;
  }
  return null;
}

/** Eight 16-bit groups; the URL parser has already validated and compressed the text. */
function parseIpv6(text: string): number[] {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const h = groups(head);
  if (tail === undefined) return h;
  const t = groups(tail);
  return [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function ipv6Refusal(g: number[]): string | null {
  const embeddedV4 = ((g[6]! << 16) >>> 0) + g[7]!;
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroPrefix(8)) return 'the host is the unspecified address';
  if (zeroPrefix(7) && g[7] === 1) return 'the host is a loopback address';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach an IPv4 host.
  if (zeroPrefix(5) && g[5] === 0xffff)
    return ipv4Refusal(embeddedV4) ?? 'IPv4-mapped IPv6 addresses are not allowed; use the IPv4 address';
  if (zeroPrefix(6)) return 'IPv4-compatible IPv6 addresses are not allowed';
  if (g[0] === 0x64 && g[1] === 0xff9b) return ipv4Refusal(embeddedV4) ?? 'NAT64 addresses are not allowed';
  const first = g[0]!;
  if ((first & 0xfe00) === 0xfc00) return 'the host is a unique-local (private) address';
  if ((first & 0xffc0) === 0xfe80) return 'the host is a link-local address';
  if ((first & 0xffc0) === 0xfec0) return 'the host is a site-local address';
  if ((first & 0xff00) === 0xff00) return 'the host is a multicast address';
  if (first === 0x2001 && g[1] === 0x0db8) return 'the host is a documentation address';
  if (first === 0x2001 && g[1] === 0) return 'Teredo addresses are not allowed';
  // 6to4 embeds an IPv4 address in groups 1-2.
  if (first === 0x2002) return ipv4Refusal(((g[1]! << 16) >>> 0) + g[2]!);
  if ((first & 0xe000) !== 0x2000) return 'the host is not a global unicast address';
  return null;
}
