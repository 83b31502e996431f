import type { Figure } from './measure.js'

/** One line of a result table: Pixstore's figure beside its baseline's. */
export interface Row {
  workload: string
  size?: string
  unit: string
  pixstore: Figure
  baseline?: Figure
  baselineName?: string
  /** `higher` when more is better (ops/s), `lower` when less is (ms, MB). */
  better: 'higher' | 'lower'
  /** The target, as text, and whether the ratio meets it. */
  target?: { text: string; met: (ratio: number, row: Row) => boolean }
}

const rows: Row[] = []

const format = (value: number) =>
  value >= 1000 ? Math.round(value).toLocaleString('en-US') : value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)
const figure = (f: Figure) => `${format(f.median)} (${format(f.min)}–${format(f.max)})`

/** Pixstore's median over the baseline's, as "how many times the baseline" for `better: higher`. */
export function ratioOf(row: Row): number | undefined {
  if (!row.baseline) return undefined
  return row.pixstore.median / row.baseline.median
}

/** A figure whose runs spread over more than 20% of its median: too noisy to judge a target by. */
const noisy = (f: Figure | undefined) => f !== undefined && f.median > 0 && (f.max - f.min) / f.median > 0.2

/** Whether the row meets its target: `met`, `missed`, or `noisy` when either figure spread too much to tell. */
export function verdictOf(row: Row): 'met' | 'missed' | 'noisy' | undefined {
  if (!row.target) return undefined
  const met = row.target.met(ratioOf(row) ?? NaN, row)
  if (noisy(row.pixstore) || noisy(row.baseline)) return 'noisy'
  return met ? 'met' : 'missed'
}

const shown = { met: 'met', missed: 'MISSED', noisy: 'too noisy to judge (a spread over 20%)' } as const

/** Records a row and prints it at once, so that a long run shows progress. */
export function record(row: Row): void {
  rows.push(row)
  const ratio = ratioOf(row)
  const judged = verdictOf(row)
  const verdict = judged ? shown[judged] : ''
  console.log(
    [
      row.workload.padEnd(46),
      (row.size ?? '').padEnd(7),
      `${figure(row.pixstore)} ${row.unit}`.padEnd(34),
      row.baseline ? `${figure(row.baseline)} ${row.unit}`.padEnd(34) : ''.padEnd(34),
      ratio !== undefined ? `×${ratio.toFixed(2)}`.padEnd(7) : ''.padEnd(7),
      row.target ? `${row.target.text} ${verdict}` : '',
    ].join(' '),
  )
}

/** Prints a section heading and the column names. */
export function section(title: string, baselineNote: string): void {
  console.log(`\n## ${title}\nbaseline: ${baselineNote}`)
  console.log(
    ['workload'.padEnd(46), 'size'.padEnd(7), 'pixstore median (min–max)'.padEnd(34), 'baseline median (min–max)'.padEnd(34), 'ratio'.padEnd(7), 'target'].join(' '),
  )
}

/** Every row so far as a Markdown table, for the README. */
export function markdown(): string {
  const lines = ['| workload | size | Pixstore | baseline | ratio | target |', '| --- | --- | --- | --- | --- | --- |']
  for (const row of rows) {
    const ratio = ratioOf(row)
    const judged = verdictOf(row)
    const verdict = judged === 'missed' ? '**missed**' : judged === 'noisy' ? 'too noisy to judge' : (judged ?? '')
    lines.push(
      `| ${row.workload} | ${row.size ?? ''} | ${figure(row.pixstore)} ${row.unit} | ${row.baseline ? `${figure(row.baseline)} ${row.unit}` : ''} | ${ratio !== undefined ? `×${ratio.toFixed(2)}` : ''} | ${row.target ? `${row.target.text}: ${verdict}` : ''} |`,
    )
  }
  return lines.join('\n')
}
