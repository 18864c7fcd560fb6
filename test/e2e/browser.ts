/** Headless Debian chromium for the page tests (scripts/install-chromium.sh installs it). */
import { existsSync } from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';

/** Without the background-networking flags chromium keeps calling out, and this machine refuses it. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether chromium is installed; a suite without it skips, and says so. */
export function chromiumAvailable(suite: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(`SKIPPING the ${suite} browser test: ${CHROMIUM} is not installed (run scripts/install-chromium.sh as root).`);
  return false;
}
