/** A progress bar on stderr: redrawn in place on a terminal, a line every tenth elsewhere. */
export function createProgress(label: string, fixedTotal: number | undefined) {
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  const draw = (done: number, total = fixedTotal) => {
    if (total === undefined || total === 0) {
      if (tty) process.stderr.write(`\r${label} ${done}`)
      return
    }
    const fraction = Math.min(1, done / total)
    if (tty) {
      const width = 30
      const filled = Math.round(fraction * width)
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`)
    } else if (Math.floor(fraction * 10) > lastTenth) {
      lastTenth = Math.floor(fraction * 10)
      process.stderr.write(`${label} ${done}/${total}\n`)
    }
  }
  return {
    update: draw,
    done(done: number, total = fixedTotal) {
      draw(done, total)
      if (tty) process.stderr.write('\n')
    },
  }
}
