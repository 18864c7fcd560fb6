/**
 * A lean JSON client for the benchmark's claim workers: Node's http module over kept-alive
 * connections. The claim loop cannot use autocannon (each complete needs the id its claim
 * returned), and fetch spends about a millisecond of CPU per request on a small machine, CPU
 * that the server under test then does not get. This keeps the loop's own cost near
 * autocannon's, so claim-and-complete is compared with /health on equal terms.
 */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

export interface LeanResult<T> {
  status: number;
  body: T;
}

/**
 * Long-poll claimers each hold a connection for up to their wait: give them an agent of their
 * own without a socket cap (`new Agent({ keepAlive: true })`), so they never queue behind each other.
 */
export function postJson<T>(base: string, path: string, key: string, body?: unknown, opts: { agent?: Agent } = {}): Promise<LeanResult<T>> {
  return send<T>({ method: 'POST', base, path, key, body, agent: opts.agent });
}

/** A GET with the key, over the same kept-alive connections. */
export function getJson<T>(base: string, path: string, key: string, opts: { agent?: Agent } = {}): Promise<LeanResult<T>> {
  return send<T>({ method: 'GET', base, path, key, agent: opts.agent });
}

interface Send {
  method: 'GET' | 'POST';
  base: string;
  path: string;
  key: string;
  body?: unknown;
  agent?: Agent;
}

function send<T>({ method, base, path, key, body, agent: chosen }: Send): Promise<LeanResult<T>> {
  const url = new URL(path, base);
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent: chosen ?? agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        headers:
          method === 'GET'
            ? { 'X-Agent-Key': key }
            : { 'X-Agent-Key': key, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : null) as T });
          } catch (e) {
            reject(new Error(`${path}: ${res.statusCode} answered non-JSON: ${text.slice(0, 200)} (${String(e)})`));
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
