/**
 * The layout of the pages a human opens from a mail link, outside the dashboard (the claim page,
 * the decision answer page): one card, no scripts, and headers for a page that holds a live token.
 */
import type { FC, PropsWithChildren } from 'hono/jsx';

// The page holds a live token: no caching, no referrer, no framing, no scripts.
export const STANDALONE_PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
};

const STYLE = `
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; line-height: 1.5; color: #111; background: #fafafa; margin: 0; }
  main { max-width: 36rem; margin: 3rem auto; padding: 2rem; background: #fff; border: 1px solid #ddd; border-radius: 8px; }
  h1 { font-size: 1.5rem; margin-top: 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .4rem 1rem; }
  dt { font-weight: 600; }
  dd { margin: 0; overflow-wrap: anywhere; }
  .question { font-size: 1.15rem; font-weight: 600; }
  .options { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; }
  button { font: inherit; font-weight: 600; padding: .7rem 1.4rem; border: 0; border-radius: 6px; background: #1a4fd6; color: #fff; cursor: pointer; }
  button:focus-visible, textarea:focus-visible { outline: 3px solid #111; outline-offset: 2px; }
  textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; min-height: 6rem; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f3f3; padding: .6rem; border-radius: 6px; }
  .note { color: #444; font-size: .95rem; }
`;

export const StandalonePage: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="robots" content="noindex" />
      <title>{`${title} · Delega`}</title>
      {/* A constant: JSX would escape its quotes. */}
      <style dangerouslySetInnerHTML={{ __html: STYLE }} />
    </head>
    <body>
      <main>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
);
