import { execFileSync } from 'node:child_process'

// The package is built once before any test file runs: the entry-point test imports it
// through its exports map, and the browser tests bundle the demo page against it.
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
}
