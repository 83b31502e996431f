import fs from 'node:fs'
import os from 'node:os'
import { PixstoreError } from '../shared/errors.js'

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Runs `action` holding `lockFile`, created exclusively with this process's pid and host,
 * so that two runs of an operation that edits files in the data directory (key rotation)
 * never interleave. A lock left by a process of this host that is gone is taken over.
 *
 * @throws PixstoreError `LOCKED` naming the holder while another run holds it.
 */
export async function withFileLock<T>(lockFile: string, what: string, action: () => Promise<T>): Promise<T> {
  const me = `${process.pid}\n${os.hostname()}\n`
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lockFile, me, { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PixstoreError('STORAGE_FAILED', `Could not create the lock file ${lockFile}`, { cause: error })
      }
      const [pid = '', host = ''] = fs.readFileSync(lockFile, 'utf8').split('\n')
      if (attempt === 0 && host === os.hostname() && !isAlive(Number(pid))) {
        fs.rmSync(lockFile, { force: true })
        continue
      }
      throw new PixstoreError('LOCKED', `${what} is already running (pid ${pid} on ${host}): wait for it to end, or remove ${lockFile} if it is gone`)
    }
  }
  try {
    return await action()
  } finally {
    fs.rmSync(lockFile, { force: true })
  }
}
