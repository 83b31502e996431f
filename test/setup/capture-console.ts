import fs from 'node:fs'
import path from 'node:path'
import { format } from 'node:util'

// Copies every console line of the test files into one file a worker, for the check at
// the end of the suite that no key material is ever logged (see global.ts).
const dir = process.env.PIXSTORE_TEST_CONSOLE_DIR
if (dir) {
  const file = path.join(dir, `${process.pid}.log`)
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method].bind(console)
    console[method] = (...args: unknown[]) => {
      fs.appendFileSync(file, format(...args) + '\n')
      original(...args)
    }
  }
}
