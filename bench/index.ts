import os from 'node:os'
import { runBackendBench } from './backend.js'
import { markdown } from './lib/report.js'

// `npm run bench` runs every section; `npm run bench -- backend http scale redirect records browser responsive` picks some,
// and `--quick` shortens every run (for trying the bench, not for figures to quote).
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const chosen = args.filter((a) => !a.startsWith('--'))
const wants = (name: string) => chosen.length === 0 || chosen.includes(name)

console.log(`# Pixstore benchmarks ${new Date().toISOString()}`)
console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`)
console.log('every figure: median (min–max) of at least 3 runs, Pixstore beside its baseline in the same run')

// Each section in run order, its module loaded only when it runs (the browser and scale-out
// ones pull in Chromium and the stores).
type Run = (options: { quick: boolean }) => Promise<void>
const sections: [string, () => Promise<Run>][] = [
  ['backend', async () => runBackendBench],
  ['http', async () => (await import('./http.js')).runHttpBench],
  ['scale', async () => (await import('./scale.js')).runScaleBench],
  ['redirect', async () => (await import('./redirect.js')).runRedirectBench],
  ['records', async () => (await import('./records.js')).runRecordsBench],
  ['browser', async () => (await import('./browser.js')).runBrowserBench],
  ['responsive', async () => (await import('./responsive.js')).runResponsiveBench],
]
for (const [name, load] of sections) if (wants(name)) await (await load())({ quick })
console.log('\n' + markdown())
