// An app written for pixstore 3.x, as its docs show it: the 3.x option names, the
// synchronous getImageRecord, and a custom endpoint through customEndpointHelper. It is
// compiled as CommonJS ("module": "commonjs"), as NestJS and tsc --init set projects up.
// Nothing in it was changed for Pixstore.
import * as fs from 'fs'
import * as http from 'http'
import * as path from 'path'
import { customEndpointHelper, getImageRecord, initPixstoreBackend } from 'pixstore/backend'

initPixstoreBackend({
  imageFormats: ['png', 'webp', 'jpg', 'jpeg'],
  imageRootDir: 'uploads',
  databasePath: './app.sqlite',
  statelessKeyWindowLength: 30000,
  defaultEndpointEnabled: false,
  accessControlAllowOrigin: '*',
  errorHandlingMode: 'hybrid',
})

// The app's own data: which images it shows.
const ids: string[] = JSON.parse(fs.readFileSync('ids.json', 'utf8'))

const page = `<!doctype html><html><head><meta charset="utf-8"><title>3.x app</title></head>
<body><main id="gallery"></main><script src="/client.js"></script></body></html>`

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

const server = http.createServer(async (req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page)
  } else if (req.url === '/client.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(fs.readFileSync(path.join('public', 'client.js')))
  } else if (req.url === '/api/images') {
    const images = ids.map((id) => ({ id, imageRecord: getImageRecord(id) }))
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(images))
  } else if (req.url === '/api/pixstore-image' && req.method === 'POST') {
    const { id, token, statelessProof } = JSON.parse(await readBody(req))
    const encoded = await customEndpointHelper(id, token, statelessProof)
    if (!encoded) {
      res.writeHead(400).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.from(encoded))
  } else {
    res.writeHead(404).end()
  }
})

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address()
  console.log(`listening ${typeof address === 'object' && address ? address.port : ''}`)
})
