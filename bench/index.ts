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

if (wants('backend')) await runBackendBench({ quick })
if (wants('http') || wants('scale')) {
  const { runHttpBench } = await import('./http.js')
  const { runScaleBench } = await import('./scale.js')
  if (wants('http')) await runHttpBench({ quick })
  if (wants('scale')) await runScaleBench({ quick })
}
if (wants('redirect')) {
  const { runRedirectBench } = await import('./redirect.js')
  await runRedirectBench({ quick })
}
if (wants('records')) {
  const { runRecordsBench } = await import('./records.js')
  await runRecordsBench({ quick })
}
if (wants('browser')) {
  const { runBrowserBench } = await import('./browser.js')
  await runBrowserBench({ quick })
}
if (wants('responsive')) {
  const { runResponsiveBench } = await import('./responsive.js')
  await runResponsiveBench({ quick })
}
console.log('\n' + markdown())
