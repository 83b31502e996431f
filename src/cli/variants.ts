import type { PixstoreBackend } from '../backend/pixstore-backend.js'
import type { VariantOptions } from '../backend/variants/options.js'
import { createProgress } from './progress.js'
import type { Print } from './rotate.js'

/** `pixstore variants` on an open backend: every image gets the variants it lacks; exit 1 if any failed. */
export async function variantsCommand(backend: PixstoreBackend, variants: VariantOptions, print: Print): Promise<number> {
  const progress = createProgress('variants', (await backend.getStats()).images)
  const report = await backend.backfillVariants({ variants, onProgress: (done) => progress.update(done) })
  progress.done(report.checked)
  print(
    report,
    [
      ...report.failed.map((f) => `${f.id}\t${f.reason}`),
      `${report.checked} checked, ${report.made} given variants, ${report.alreadyDone} had them, ` +
        `${report.changedMeanwhile} updated meanwhile, ${report.failed.length} failed`,
    ].join('\n'),
  )
  return report.failed.length > 0 ? 1 : 0
}
