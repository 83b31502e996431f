/** A progress bar on stderr, redrawn in place, on a terminal only: logs and pipes get none. */
export function createProgress(label: string, fixedTotal: number | undefined) {
  const tty = process.stderr.isTTY === true
  const draw = (done: number, total = fixedTotal) => {
    if (!tty) return
    if (total === undefined || total === 0) {
      process.stderr.write(`\r${label} ${done}`)
      return
    }
    const width = 30
    const filled = Math.round(Math.min(1, done / total) * width)
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`)
  }
  return {
    update: draw,
    done(done: number, total = fixedTotal) {
      draw(done, total)
      if (tty) process.stderr.write('\n')
    },
  }
}
