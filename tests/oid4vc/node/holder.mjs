// A REAL OpenID4VCI holder (Credo 0.6.3) the tests drive as a wallet app: it redeems the offer a
// QR code holds (by value or by reference, any scheme), with the PIN the visitor typed, and keeps
// the SD-JWT VCs it got.
//
// POST /redeem {"offer": "<the QR's text>", "tx_code": "123456"} -> {"credential": "<compact SD-JWT VC>"}
//   or 400 {"error": "..."} when the issuer refused (a wrong PIN, an expired or cancelled offer).
// GET /credentials -> {"credentials": [...]} the stored ones. Environment: PORT.
import express from 'express'
import { Kms } from '@credo-ts/core'
import { OpenId4VcModule } from '@credo-ts/openid4vc'

import { makeAgent } from './agent.mjs'

const PORT = Number(process.env.PORT)
const agent = makeAgent('holder', { openid4vc: new OpenId4VcModule() })

// The wallet binds the credential to a fresh key of its own, as a JWK.
async function bindToNewKey({ proofTypes }) {
  const algorithms = proofTypes.jwt?.supportedSignatureAlgorithms || []
  const type = algorithms.includes('EdDSA') ? { kty: 'OKP', crv: 'Ed25519' } : { kty: 'EC', crv: 'P-256' }
  const key = await agent.kms.createKey({ type })
  return { method: 'jwk', keys: [Kms.PublicJwk.fromPublicJwk(key.publicJwk)] }
}

async function redeem(offer, txCode) {
  const resolved = await agent.openid4vc.holder.resolveCredentialOffer(offer)
  const token = await agent.openid4vc.holder.requestToken({ resolvedCredentialOffer: resolved, txCode: txCode || undefined })
  const { credentials } = await agent.openid4vc.holder.requestCredentials({
    resolvedCredentialOffer: resolved, ...token, credentialBindingResolver: bindToNewKey,
  })
  const stored = []
  for (const { record } of credentials) {
    await agent.sdJwtVc.store({ record })
    stored.push(record.encoded)
  }
  return stored
}

const app = express()
app.use(express.json({ limit: '64kb' }))
app.post('/redeem', async (request, response) => {
  try {
    const [credential] = await redeem(String(request.body.offer || ''), request.body.tx_code)
    response.json({ credential })
  } catch (error) {
    response.status(400).json({ error: String(error?.message || error).slice(0, 2000) })
  }
})
app.get('/credentials', async (_request, response) => {
  const records = await agent.sdJwtVc.getAll()
  response.json({ credentials: records.map((record) => record.encoded) })
})
app.get('/health', (_request, response) => response.json({ status: 'UP' }))

await agent.initialize()
app.listen(PORT, '127.0.0.1', () => console.log(`holder on http://127.0.0.1:${PORT}`))
