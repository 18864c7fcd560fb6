/**
 * The HTML part of every mail: one simple layout with inline styles (mail clients drop style
 * sheets), rendered from hono/jsx so each value is escaped. The text part is written beside it.
 */
import type { FC, PropsWithChildren } from 'hono/jsx';

const BODY =
  'font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;line-height:1.5;color:#111;max-width:560px;margin:0 auto;padding:24px';

/** The mail's title as its heading, the content, and a quiet footnote (why the mail came, what to ignore). */
export const MailLayout: FC<PropsWithChildren<{ title: string; footnote: string }>> = ({ title, footnote, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <title>{title}</title>
    </head>
    <body style={BODY}>
      <h1 style="font-size:20px">{title}</h1>
      {children}
      <p style="color:#555;font-size:13px">{footnote}</p>
    </body>
  </html>
);

/** A link as a button. */
export const MailButton: FC<{ href: string; label: string; color?: string }> = ({ href, label, color = '#111' }) => (
  <p>
    <a
      href={href}
      style={`display:inline-block;background:${color};color:#fff;padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:600`}
    >
      {label}
    </a>
  </p>
);

/** A one-time code, large and spaced. */
export const MailCode: FC<{ code: string }> = ({ code }) => (
  <p style="font-size:28px;font-weight:bold;letter-spacing:6px;font-family:ui-monospace,monospace">{code}</p>
);
