// What the issuer and the holder share: a Credo 0.6.3 agent on Node, its wallet in memory.
//
// @credo-ts/node 0.6 is not published, so the agent's few Node dependencies are given here. The
// native askar library is the one of PyPI's aries-askar wheel; LIB_ASKAR_PATH names its folder.
import { EventEmitter } from 'node:events'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

// First: askar-nodejs registers the native library with askar-shared (CommonJS), whose exports
// @credo-ts/askar then reads once, when it is first imported.
import { askarNodeJS } from '@openwallet-foundation/askar-nodejs'
import { AskarModule } from '@credo-ts/askar'
import { Agent, ConsoleLogger, LogLevel } from '@credo-ts/core'

class NodeFileSystem {
  constructor() {
    const base = process.env.CREDO_HOME || path.join(os.tmpdir(), 'registerft-credo')
    this.dataPath = path.join(base, 'data')
    this.cachePath = path.join(base, 'cache')
    this.tempPath = path.join(base, 'tmp')
  }
  async exists(file) {
    return fs.access(file).then(() => true, () => false)
  }
  async createDirectory(file) {
    await fs.mkdir(path.dirname(file), { recursive: true })
  }
  async copyFile(source, destination) {
    await fs.copyFile(source, destination)
  }
  async write(file, data) {
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, data, 'utf8')
  }
  async read(file) {
    return fs.readFile(file, 'utf8')
  }
  async delete(file) {
    await fs.rm(file, { recursive: true, force: true })
  }
  async downloadToFile() {
    throw new Error('The test agents download nothing')
  }
}

// The agents speak HTTP only; a WebSocket class is asked for but never used.
class NoWebSocket {
  constructor() {
    throw new Error('The test agents open no WebSocket')
  }
}

export const agentDependencies = {
  FileSystem: NodeFileSystem,
  EventEmitterClass: EventEmitter,
  fetch: globalThis.fetch,
  WebSocketClass: NoWebSocket,
}

export function makeAgent(label, modules) {
  return new Agent({
    config: {
      // Loopback only: the tests' issuer and portal speak plain http on 127.0.0.1.
      allowInsecureHttpUrls: true,
      logger: new ConsoleLogger(process.env.CREDO_LOG === 'debug' ? LogLevel.debug : LogLevel.warn),
    },
    dependencies: agentDependencies,
    modules: {
      askar: new AskarModule({
        askar: askarNodeJS,
        store: { id: `registerft-${label}`, key: askarNodeJS.storeGenerateRawKey({}), keyDerivationMethod: 'raw',
                 database: { type: 'sqlite', config: { inMemory: true } } },
      }),
      ...modules,
    },
  })
}
