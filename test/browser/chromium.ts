import fs from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

const candidates = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable']

/** The system Chromium to drive: `CHROME_PATH`, else the usual Debian and Chrome locations. */
export function findChromium(): string | undefined {
  const configured = process.env.CHROME_PATH
  if (configured) return configured
  return candidates.find((file) => fs.existsSync(file))
}

/**
 * Whether the browser tests run. Without a browser they fail, with a message saying how to
 * install one, unless PIXSTORE_SKIP_BROWSER=1 is set; then they say loudly that they were skipped.
 */
export function browserTestsEnabled(): boolean {
  if (findChromium()) return true
  if (process.env.PIXSTORE_SKIP_BROWSER === '1') {
    console.warn('\n*** BROWSER TESTS SKIPPED: no Chromium found and PIXSTORE_SKIP_BROWSER=1 is set. ***\n')
    return false
  }
  return true
}

/** Launches headless Chromium with a fresh profile and the flags a closed network needs. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium()
  if (!executablePath) {
    throw new Error(
      'No Chromium found for the browser tests. Install one (Debian: apt-get install chromium) or set CHROME_PATH; ' +
        'PIXSTORE_SKIP_BROWSER=1 skips these tests.',
    )
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  })
}
