// Quflux test bed: a real Bluesky PDS (@atproto/pds) plus an in-memory PLC directory
// (@did-plc/server) in one Node process. Started by scripts/testbed/pds.sh, which copies this
// file next to its node_modules. Every listening socket is forced onto LISTEN_HOST
// (default 127.0.0.1): the libraries call listen(port) without a host.
import net from 'node:net'
import { createRequire } from 'node:module'

const host = process.env.LISTEN_HOST || '127.0.0.1'
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
    args.splice(1, 0, host)
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined && !args[0].host) {
    args[0] = { ...args[0], host }
  }
  return origListen.apply(this, args)
}

const require = createRequire(import.meta.url)
const { PDS, envToCfg, envToSecrets, readEnv } = await import('@atproto/pds')

let plcServer = null
let plcDb = null
if (!process.env.PDS_DID_PLC_URL) {
  const plc = require('@did-plc/server')
  const plcPort = Number(process.env.PLC_PORT || 2582)
  plcDb = plc.Database.mock()
  plcServer = plc.PlcServer.create({ db: plcDb, port: plcPort })
  await plcServer.start()
  // The PDS identity resolver refuses IP-literal hosts: use "localhost", not 127.0.0.1.
  process.env.PDS_DID_PLC_URL = `http://localhost:${plcPort}`
  console.log(`PLC (in-memory) listening on ${process.env.PDS_DID_PLC_URL}`)
}

const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()
console.log(`PDS listening on http://${host}:${env.port ?? 2583}`)

const shutdown = async () => {
  await pds.destroy().catch(() => {})
  if (plcServer) await plcServer.destroy().catch(() => {})
  if (plcDb && plcDb.close) await plcDb.close().catch(() => {})
  process.exit(0)
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
