// Runs the HTTP benches: `npx tsx bench/http-main.ts [--quick]`.
import { runHttpBench } from './http.js'
import { markdown } from './lib/report.js'
import { runScaleBench } from './scale.js'

const quick = process.argv.includes('--quick')
const started = Date.now()
let failed = false
try {
  await runHttpBench({ quick })
  await runScaleBench({ quick })
} catch (error) {
  failed = true
  console.error(`\nThe HTTP bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  console.log(`\n${markdown()}\n`)
  console.log(`Total ${((Date.now() - started) / 1000).toFixed(0)} s${quick ? ' (quick)' : ''}`)
}
// Exit now (children and temp dirs are cleaned up on exit), whatever handle may linger.
process.exit(failed ? 1 : 0)
