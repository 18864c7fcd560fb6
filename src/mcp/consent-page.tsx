/** The small HTML pages of the MCP OAuth consent flow (hono/jsx: every value is escaped). */
import type { FC, PropsWithChildren } from 'hono/jsx';
import { type HtmlNode, htmlDocument } from '../platform/html';

const STYLE =
  'body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:0 auto;padding:24px}label{display:block;margin:8px 0}button{font-size:16px;padding:8px 16px;margin-right:8px}input[type=email]{font-size:16px;padding:6px;width:100%}.warn{background:#fff4e5;padding:8px}';

const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'";

const Layout: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width,initial-scale=1" />
      <title>{title}</title>
      {/* A constant, as written (JSX would escape it as text). */}
      <style dangerouslySetInnerHTML={{ __html: STYLE }} />
    </head>
    <body>
      <h1>{title}</h1>
      {children}
    </body>
  </html>
);

function respond(page: HtmlNode, status: number, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set('Content-Type', 'text/html; charset=utf-8');
  h.set('Cache-Control', 'no-store');
  h.set('X-Frame-Options', 'DENY');
  h.set('Content-Security-Policy', CSP);
  return new Response(htmlDocument(page), { status, headers: h });
}

export function failurePage(message: string, status = 400): Response {
  return respond(
    <Layout title="Cannot connect">
      <p>{message}</p>
    </Layout>,
    status,
  );
}

export interface ConsentChoice {
  id: string;
  name: string;
  displayName: string | null;
  role: string;
}

export interface ConsentView {
  clientName: string;
  /** The verified domain of the client, when it published its metadata. */
  clientDomain: string | null | undefined;
  redirectHost: string;
  redirectIsLoopback: boolean;
  handle: string;
  email: string;
  choices: ConsentChoice[];
}

export function consentPage(view: ConsentView, headers?: HeadersInit): Response {
  return respond(
    <Layout title={`Connect ${view.clientName}?`}>
      <p>
        <strong>{view.clientName}</strong> (
        {view.clientDomain ? `published by ${view.clientDomain}` : 'registered itself; its name is not verified'}) asks to use Delega's MCP
        tools. Access goes to <strong>{view.redirectHost}</strong>.
      </p>
      {view.redirectIsLoopback ? (
        <p class="warn">This sends access to an app on your computer. Continue only if you just started connecting from it.</p>
      ) : null}
      <form method="post" action="/authorize">
        <input type="hidden" name="handle" value={view.handle} />
        <p>Signed in as {view.email}. Act as:</p>
        {view.choices.map((a, i) => (
          <label>
            <input type="radio" name="agent_id" value={a.id} checked={i === 0} /> {a.displayName ?? a.name} ({a.name}, {a.role})
          </label>
        ))}
        <p>
          <button type="submit" name="decision" value="approve">
            Approve
          </button>
          <button type="submit" name="decision" value="deny">
            Deny
          </button>
        </p>
      </form>
    </Layout>,
    200,
    headers,
  );
}
