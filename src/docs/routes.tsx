/**
 * GET /docs: the interactive API reference. Its scripts are Workers static assets of this
 * Worker (the pinned `@scalar/api-reference` bundle and `init.js`, copied by
 * scripts/build-assets.mjs), so the page loads nothing from another origin; the CSP holds it to that.
 */
import { Hono } from 'hono';
import type { AppBindings } from '../env';
import { htmlDocument } from '../platform/html';

export const DOCS_ASSETS = { bundle: '/docs/assets/scalar-api-reference.js', init: '/docs/assets/init.js' } as const;

// Scalar sets styles inline; everything else comes from this origin only.
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const DocsPage = () => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>Delega API reference</title>
    </head>
    <body>
      <div id="app"></div>
      <script src={DOCS_ASSETS.bundle}></script>
      <script src={DOCS_ASSETS.init}></script>
    </body>
  </html>
);

export const docsRoutes = new Hono<AppBindings>().get('/docs', (c) => {
  c.header('Content-Security-Policy', DOCS_CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  return c.html(htmlDocument(<DocsPage />));
});
