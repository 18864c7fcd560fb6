/**
 * Sign-in pages: ask for the email, send the magic link, confirm it (a button, so a mail
 * scanner that fetches the link does not use it up) and set the session cookie.
 */
import { Hono, type Context } from 'hono';
import { database } from '../db/client';
import { mailerFor } from '../email/mailer';
import { escapeHtml } from '../email/html';
import type { AppBindings } from '../env';
import { isDevelopment, keyPepper, limit } from '../lib/config';
import { rateCounter } from '../limits/rate-limiter';
import { clientIp } from '../routes/openapi';
import { page } from './page';
import { confirmSignIn, requestSignIn, safeNext, sameOrigin, sessionCookie, type SignInDeps } from './sign-in';

function deps(c: Context<AppBindings>): SignInDeps {
  const origin = new URL(c.req.url).origin;
  return {
    db: database(c.env.DB),
    pepper: keyPepper(c.env),
    mailer: mailerFor(c.env),
    rate: rateCounter(c.env),
    linkBase: isDevelopment(c.env) ? origin : c.env.PUBLIC_BASE_URL || origin,
    limits: {
      perMinute: limit(c.env, 'ONBOARDING_RATE_PER_MINUTE'),
      emailsPerHour: limit(c.env, 'EMAILS_PER_HOUR'),
      lockout: { failures: limit(c.env, 'CODE_FAILURES_BEFORE_LOCKOUT'), baseSeconds: limit(c.env, 'CODE_LOCKOUT_SECONDS'), maxSeconds: limit(c.env, 'CODE_LOCKOUT_MAX_SECONDS') },
    },
  };
}

/** The sign-in form; `next` is where the browser goes once signed in. */
export function signInForm(next: string, note = ''): Response {
  return page(
    'Sign in to Delega',
    `${note}<form method="post" action="/sign-in"><label>Your email <input type="email" name="email" required autocomplete="email"></label><input type="hidden" name="next" value="${escapeHtml(safeNext(next))}"><button type="submit">Email me a sign-in link</button></form>`,
  );
}

const field = (form: Record<string, unknown>, name: string) => (typeof form[name] === 'string' ? (form[name] as string) : '');

const crossSite = () => page('Cannot sign in', '<p>This form was sent from another site.</p>', 403);

export const signInRoutes = new Hono<AppBindings>()
  .use('/sign-in/*', async (c, next) => (c.req.method === 'POST' && !sameOrigin(c.req.url, c.req.header('Origin')) ? crossSite() : next()))
  .use('/sign-in', async (c, next) => (c.req.method === 'POST' && !sameOrigin(c.req.url, c.req.header('Origin')) ? crossSite() : next()))
  .get('/sign-in', (c) => signInForm(c.req.query('next') ?? '/'))
  .post('/sign-in', async (c) => {
    const form = await c.req.parseBody();
    const email = field(form, 'email').trim();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) || email.length > 254) return signInForm(field(form, 'next'), '<p class="warn">Enter a valid email address.</p>');
    await requestSignIn(deps(c), { email, next: field(form, 'next'), ip: clientIp(c) }, Date.now());
    return page('Check your email', `<p>If ${escapeHtml(email)} belongs to a Delega account, a sign-in link is on its way. Open it in this browser.</p>`);
  })
  .get('/sign-in/confirm', (c) => {
    const email = c.req.query('email') ?? '';
    const hidden = ['email', 'code', 'next'].map((n) => `<input type="hidden" name="${n}" value="${escapeHtml(c.req.query(n) ?? '')}">`).join('');
    return page('Sign in to Delega', `<form method="post" action="/sign-in/confirm">${hidden}<p>Sign in as <strong>${escapeHtml(email)}</strong>?</p><button type="submit">Sign in</button></form>`);
  })
  .post('/sign-in/confirm', async (c) => {
    const form = await c.req.parseBody();
    const session = await confirmSignIn(deps(c), { email: field(form, 'email'), code: field(form, 'code') }, Date.now());
    if (!session) return page('This link no longer works', '<p>Sign-in links work once, for 15 minutes. <a href="/sign-in">Ask for a new one.</a></p>', 400);
    const cookie = await sessionCookie(keyPepper(c.env), session, new URL(c.req.url).protocol === 'https:');
    return new Response(null, { status: 303, headers: { Location: safeNext(field(form, 'next')), 'Set-Cookie': cookie, 'Cache-Control': 'no-store' } });
  });
