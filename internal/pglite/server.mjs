// A PGlite (PostgreSQL compiled to WASM) in-memory database with the pgvector extension, served
// over the PostgreSQL wire protocol on 127.0.0.1 by pglite-socket. Started by pglite.Start for
// tests: it prints "PGLITE READY <host>:<port> <server_version> <vector_version>" once it accepts
// connections, and exits when its standard input closes (so a killed test process never leaves
// it behind) or on SIGTERM/SIGINT.
//
// A new PGlite runs initdb, which takes most of the start-up; the first start saves the fresh
// data directory (with pgvector created) under node_modules/.cache, and later starts load it,
// about three times faster. npm ci empties node_modules, so a change of versions drops it.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { vector } from '@electric-sql/pglite-pgvector'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const host = process.env.PGLITE_HOST || '127.0.0.1'
const port = Number(process.env.PGLITE_PORT || 0)
const maxConnections = Number(process.env.PGLITE_MAX_CONNECTIONS || 1)
const here = path.dirname(fileURLToPath(import.meta.url))
const cacheDir = path.join(here, 'node_modules', '.cache', 'gathering-pglite')
const cacheFile = path.join(cacheDir, 'datadir.tar')

async function open() {
  if (process.env.PGLITE_NO_CACHE !== '1' && fs.existsSync(cacheFile)) {
    try {
      const db = await PGlite.create({
        extensions: { vector },
        loadDataDir: new Blob([fs.readFileSync(cacheFile)]),
      })
      return db
    } catch (err) {
      console.error('pglite: cached data directory unusable, starting afresh:', err)
    }
  }
  const db = await PGlite.create({ extensions: { vector } })
  await db.exec('CREATE EXTENSION IF NOT EXISTS vector')
  if (process.env.PGLITE_NO_CACHE !== '1') {
    try {
      const dump = await db.dumpDataDir('none')
      fs.mkdirSync(cacheDir, { recursive: true })
      // Written aside and renamed, so a server starting meanwhile never reads half of it.
      const tmp = `${cacheFile}.${process.pid}.tmp`
      fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()))
      fs.renameSync(tmp, cacheFile)
    } catch (err) {
      console.error('pglite: could not cache the data directory:', err)
    }
  }
  return db
}

const db = await open()
await db.exec('CREATE EXTENSION IF NOT EXISTS vector')
const ver = await db.query(
  "SELECT current_setting('server_version') AS pg, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS vector",
)

const server = new PGLiteSocketServer({ db, host, port, maxConnections })
await server.start()

let stopping = false
async function stop(code) {
  if (stopping) return
  stopping = true
  try {
    await server.stop()
    await db.close()
  } catch (err) {
    console.error('pglite: stop:', err)
  }
  process.exit(code)
}
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))
process.stdin.on('end', () => stop(0))
process.stdin.on('close', () => stop(0))
process.stdin.resume()

// getServerConn() is "host:port" with the port the OS assigned.
const row = ver.rows[0]
process.stdout.write(`PGLITE READY ${server.getServerConn()} ${row.pg} ${row.vector}\n`)
