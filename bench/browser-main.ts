// The browser bench alone: `npx tsx bench/browser-main.ts [--quick]`.
import { runBrowserBench } from './browser.js'
import { markdown } from './lib/report.js'

const started = Date.now()
await runBrowserBench({ quick: process.argv.includes('--quick') })
console.log('\n' + markdown())
console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`)
