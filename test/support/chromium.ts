import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The flags the console's browser tests and screenshots launch Chromium with (closed network). */
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

/**
 * Debian's Chromium for the browser tests: $CHROMIUM_BIN or /usr/bin/chromium, installed with
 * scripts/ensure-chromium.sh (apt-get, as root) when missing. Answers the path, or why there is
 * none (the tests then skip, printing that reason). Called once per test file, at load.
 */
export function findChromium(): { path: string } | { missing: string } {
  const candidate = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
  if (existsSync(candidate)) return { path: candidate };
  try {
    execFileSync('bash', [path.join(__dirname, '../../scripts/ensure-chromium.sh')], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return { missing: `chromium cannot be installed: ${e.stderr?.toString().trim() || e.message}` };
  }
  return existsSync(candidate)
    ? { path: candidate }
    : { missing: `no Chromium at ${candidate} after installing it` };
}
