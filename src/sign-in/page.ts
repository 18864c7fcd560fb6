/** The small HTML pages of the MCP OAuth consent flow: one layout, every interpolated value escaped by the caller. */
import { escapeHtml } from '../email/html';

export function page(title: string, body: string, status = 200, headers?: HeadersInit): Response {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:0 auto;padding:24px}label{display:block;margin:8px 0}button{font-size:16px;padding:8px 16px;margin-right:8px}input[type=email]{font-size:16px;padding:6px;width:100%}.warn{background:#fff4e5;padding:8px}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
  const h = new Headers(headers);
  h.set('Content-Type', 'text/html; charset=utf-8');
  h.set('Cache-Control', 'no-store');
  h.set('X-Frame-Options', 'DENY');
  h.set(
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:; frame-ancestors 'none'",
  );
  return new Response(html, { status, headers: h });
}
