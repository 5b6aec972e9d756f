// A stand-in for swiyu's generic issuer: its management API (the paths, field and status names of
// swiyu-admin-ch/swiyu-issuer's openapi.yaml that the portal uses) in front of a REAL OpenID4VCI
// issuer, Credo 0.6.3, which wallets redeem offers at (pre-authorized code, optional tx_code,
// dc+sd-jwt credentials signed with a did:key).
//
// Environment: PORT, BEARER_TOKEN (the gateway's token the portal must send), WEBHOOK_CALLBACK_URI
// and WEBHOOK_API_KEY_VALUE (swiyu's names; the key goes in x-api-key), CONFIGURATION_ID.
// Not swiyu's: GET /stand-in/issuer tells the tests the key that signs the credentials.
import { randomUUID } from 'node:crypto'

import express from 'express'
import {
  OpenId4VcIssuanceSessionRepository,
  OpenId4VcIssuanceSessionState as State,
  OpenId4VcIssuerEvents,
  OpenId4VcModule,
} from '@credo-ts/openid4vc'

import { makeAgent } from './agent.mjs'

const PORT = Number(process.env.PORT)
const BASE = `http://127.0.0.1:${PORT}`
const ISSUER_ID = 'registerft-test-issuer'
const CONFIGURATION_ID = process.env.CONFIGURATION_ID || 'registerft-visitor'
const VCT = 'https://registerft.test/visitor'

// management id -> { sessionId, validUntil (ms), cancelled, revoked, reported }
const offers = new Map()

const app = express()
const agent = makeAgent('issuer', {
  openid4vc: new OpenId4VcModule({
    app,
    issuer: {
      baseUrl: `${BASE}/oid4vci`,
      credentialRequestToCredentialMapper: credentialsFor,
    },
  }),
})

let issuerDid = ''
let issuerJwk = {}

function credentialsFor({ issuanceSession, holderBinding }) {
  const { subject, validUntil } = issuanceSession.issuanceMetadata
  const payload = { vct: VCT, ...subject }
  if (validUntil) payload.exp = Math.floor(Date.parse(validUntil) / 1000)
  return {
    type: 'credentials',
    format: 'dc+sd-jwt',
    credentials: holderBinding.keys.map((key) => ({
      payload,
      holder: key.method === 'did' ? { method: 'did', didUrl: key.didUrl } : { method: 'jwk', jwk: key.jwk },
      issuer: { method: 'did', didUrl: issuerDid },
      disclosureFrame: { _sd: Object.keys(subject) },
    })),
  }
}

// swiyu's CredentialStatusType, read from the Credo session and the stand-in's own marks.
function statusOf(offer, session) {
  if (offer.revoked) return 'REVOKED'
  if (offer.cancelled) return 'CANCELLED'
  if (!session) return 'CANCELLED'
  if ([State.Completed, State.CredentialsPartiallyIssued].includes(session.state)) return 'ISSUED'
  if (Date.now() > offer.validUntil) return 'EXPIRED'
  if ([State.OfferCreated, State.OfferUriRetrieved].includes(session.state)) return 'OFFERED'
  return 'IN_PROGRESS'
}

async function sessionOf(offer) {
  const repository = agent.dependencyManager.resolve(OpenId4VcIssuanceSessionRepository)
  return repository.findById(agent.context, offer.sessionId)
}

async function currentStatus(id) {
  const offer = offers.get(id)
  return offer ? statusOf(offer, await sessionOf(offer)) : undefined
}

// swiyu's WebhookCallback, once per new status; it retries until delivered, as swiyu does.
async function report(id, status, trigger) {
  const offer = offers.get(id)
  if (!offer || offer.reported === status || !process.env.WEBHOOK_CALLBACK_URI) return
  offer.reported = status
  const body = {
    subject_id: id, event_type: 'VC_STATUS_CHANGED', event: status, event_trigger: trigger,
    event_description: `status ${status}`, timestamp: new Date().toISOString(),
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const answer = await fetch(process.env.WEBHOOK_CALLBACK_URI, {
        method: 'POST', body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', 'x-api-key': process.env.WEBHOOK_API_KEY_VALUE || '' },
        signal: AbortSignal.timeout(5000),
      })
      if (answer.ok) return
    } catch {
      // The portal may be busy or restarting: try again shortly, as swiyu's service does.
    }
    await new Promise((resolve) => setTimeout(resolve, 250 * (attempt + 1)))
  }
}

function authorised(request, response, next) {
  if (request.headers.authorization !== `Bearer ${process.env.BEARER_TOKEN}`) {
    response.status(401).json({ detail: 'the gateway refused the token' })
    return
  }
  next()
}

const management = express.Router()
management.use(authorised, express.json({ limit: '64kb' }))

// CreateCredentialOfferRequest -> CredentialWithDeeplinkResponse
management.post('/credentials', async (request, response) => {
  const body = request.body || {}
  const [configurationId] = body.metadata_credential_supported_id || []
  const subject = body.credential_subject_data
  if (configurationId !== CONFIGURATION_ID || !subject || typeof subject !== 'object') {
    response.status(400).json({ detail: 'unknown metadata_credential_supported_id or no credential_subject_data' })
    return
  }
  const seconds = Number(body.offer_validity_seconds) || 86400
  const useTxCode = Boolean(body.tx_code_config?.use_tx_code)
  const { issuanceSession } = await agent.openid4vc.issuer.createCredentialOffer({
    issuerId: ISSUER_ID,
    credentialConfigurationIds: [CONFIGURATION_ID],
    preAuthorizedCodeFlowConfig: useTxCode
      ? { txCode: { input_mode: 'numeric', length: 6, description: 'The PIN shown next to the QR code' } }
      : {},
    issuanceMetadata: { subject, validUntil: body.credential_valid_until || '' },
    expirationInSeconds: seconds,
  })
  const id = randomUUID()
  offers.set(id, { sessionId: issuanceSession.id, validUntil: Date.now() + seconds * 1000 })
  // swiyu's deeplink carries the offer by value; the portal serves it by reference.
  const deeplink = `swiyu://?credential_offer=${encodeURIComponent(JSON.stringify(issuanceSession.credentialOfferPayload))}`
  response.json({
    management_id: id, offer_id: issuanceSession.id, offer_deeplink: deeplink,
    ...(useTxCode ? { tx_code: issuanceSession.userPin } : {}),
  })
})

// StatusResponse
management.get('/credentials/:id/status', async (request, response) => {
  const status = await currentStatus(request.params.id)
  if (!status) response.status(404).json({ detail: 'no such credential' })
  else response.json({ id: request.params.id, status })
})

// UpdateCredentialStatusRequestType: CANCELLED an offer, REVOKED an issued credential.
management.patch('/credentials/:id/status', async (request, response) => {
  const offer = offers.get(request.params.id)
  const target = request.query.credentialStatus
  if (!offer) {
    response.status(404).json({ detail: 'no such credential' })
    return
  }
  const status = await currentStatus(request.params.id)
  if (target === 'CANCELLED' && !['ISSUED', 'REVOKED'].includes(status)) {
    offer.cancelled = true
    // A cancelled offer can no longer be redeemed: its session is gone from the issuer.
    const session = await sessionOf(offer)
    if (session) await agent.dependencyManager.resolve(OpenId4VcIssuanceSessionRepository).delete(agent.context, session)
  } else if (target === 'REVOKED' && status === 'ISSUED') {
    offer.revoked = true
  } else {
    response.status(400).json({ detail: `cannot move from ${status} to ${target}` })
    return
  }
  const now = await currentStatus(request.params.id)
  report(request.params.id, now, 'MANAGEMENT')
  response.json({ id: request.params.id, status: now })
})

app.use('/management/api', management)
app.get('/actuator/health', (_request, response) => response.json({ status: 'UP' }))
app.get('/stand-in/issuer', (_request, response) => response.json({ kid: issuerDid, jwk: issuerJwk }))

await agent.initialize()
const key = await agent.kms.createKey({ type: { kty: 'OKP', crv: 'Ed25519' } })
const { didState } = await agent.dids.create({ method: 'key', options: { keyId: key.keyId } })
if (!didState.did) throw new Error(`did:key not created: ${JSON.stringify(didState)}`)
issuerDid = `${didState.did}#${didState.did.slice('did:key:'.length)}`
issuerJwk = { kty: key.publicJwk.kty, crv: key.publicJwk.crv, x: key.publicJwk.x }
await agent.openid4vc.issuer.createIssuer({
  issuerId: ISSUER_ID,
  display: [{ name: 'registerft test issuer' }],
  credentialConfigurationsSupported: {
    [CONFIGURATION_ID]: {
      format: 'dc+sd-jwt',
      vct: VCT,
      scope: CONFIGURATION_ID,
      cryptographic_binding_methods_supported: ['jwk', 'did:key'],
      credential_signing_alg_values_supported: ['EdDSA', 'ES256'],
      proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['EdDSA', 'ES256'] } },
    },
  },
})

agent.events.on(OpenId4VcIssuerEvents.IssuanceSessionStateChanged, ({ payload }) => {
  for (const [id, offer] of offers) {
    if (offer.sessionId === payload.issuanceSession.id) report(id, statusOf(offer, payload.issuanceSession), 'WALLET')
  }
})

app.listen(PORT, '127.0.0.1', () => console.log(`stand-in issuer on ${BASE}`))
