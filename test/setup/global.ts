import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const consoleDir = path.resolve('test-output/console')

/**
 * Runs once around the whole suite.
 * - Builds the package: the entry-point test imports it through its exports map, and the
 *   browser tests and child processes run the built code.
 * - Gives the suite its own proof secret and master key through the environment (test
 *   files inherit it), and afterwards fails the run if either, or anything shaped like a
 *   raw 256-bit key, appears in what any test wrote to the console.
 */
export default function setup(): () => void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  const proofSecret = `suite-${randomBytes(30).toString('base64url')}`
  const masterKey = randomBytes(32)
  process.env.PIXSTORE_PROOF_SECRET = proofSecret
  process.env.PIXSTORE_MASTER_KEY = `suite:${masterKey.toString('base64')}`
  fs.rmSync(consoleDir, { recursive: true, force: true })
  fs.mkdirSync(consoleDir, { recursive: true })
  process.env.PIXSTORE_TEST_CONSOLE_DIR = consoleDir

  return () => {
    const logs = fs.readdirSync(consoleDir).map((file) => fs.readFileSync(path.join(consoleDir, file), 'utf8')).join('\n')
    const secrets = [proofSecret, masterKey.toString('base64'), masterKey.toString('base64url'), masterKey.toString('hex')]
    const leaks = secrets.filter((secret) => logs.includes(secret))
    const rawKeys = logs.match(/[A-Za-z0-9+/]{43}=/g) ?? []
    if (leaks.length > 0 || rawKeys.length > 0) {
      // Vitest reports a teardown error but keeps the exit code: set it too.
      process.exitCode = 1
      throw new Error(
        `Key material appeared in the console output of the test suite (${leaks.length} suite secrets, ` +
          `${rawKeys.length} base64 256-bit values); see ${consoleDir}`,
      )
    }
    console.log(`console output of the suite checked for key material: ${logs.length} characters, none found`)
  }
}
