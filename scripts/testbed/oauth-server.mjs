// Quflux test bed: a strict OAuth 2.0 authorization server for the token tests, built on
// oauth2-mock-server (npm). Started by scripts/testbed/oauth.sh, which copies this file next to
// its node_modules. Loopback only.
//
// On top of the stock mock (which accepts any code and any refresh token) it behaves like a
// real provider:
// - /authorize redirects at once (no login page) with a single-use code; `login_hint` picks the
//   subject (default QUFLUX_OAUTH_SUBJECT or "johndoe").
// - /token (authorization_code): unknown, reused or mismatched (redirect_uri, client_id) codes
//   and a missing or wrong PKCE verifier are refused with 400.
// - /token (refresh_token): refresh tokens ROTATE: each works once and the answer carries a new
//   one. Presenting a spent refresh token is refused (400 invalid_grant) and, as RFC 9700
//   §4.14.2 recommends, revokes the whole token family (the current refresh token too).
// - /userinfo needs a live bearer token it issued (401 otherwise) and answers
//   {sub, preferred_username, name}.
// - /revoke (RFC 7009) revokes an access or refresh token (200 even for unknown tokens).
// Options: QUFLUX_OAUTH_PORT (8095), QUFLUX_OAUTH_TOKEN_TTL (seconds, 3600).
import { OAuth2Server } from 'oauth2-mock-server'
import express from 'express'
import http from 'node:http'
import { randomUUID } from 'node:crypto'

const host = '127.0.0.1'
const port = Number(process.env.QUFLUX_OAUTH_PORT || 8095)
const ttl = Number(process.env.QUFLUX_OAUTH_TOKEN_TTL || 3600)
const defaultSubject = process.env.QUFLUX_OAUTH_SUBJECT || 'johndoe'

const server = new OAuth2Server()
await server.issuer.keys.generate('RS256')
server.issuer.url = `http://${host}:${port}`

const codes = new Map()    // code -> { clientId, redirectUri, scope, pkce, sub }
const refresh = new Map()  // live refresh_token -> { clientId, scope, sub, family }
const spent = new Map()    // used refresh_token -> family
const access = new Map()   // live access_token -> { sub, exp (ms) }
const counters = { refreshes: 0 }

const invalidGrant = (resp, why) => {
  resp.statusCode = 400
  resp.body = { error: 'invalid_grant', error_description: why }
}
const basicClient = (req) => {
  const h = req.headers.authorization || ''
  if (!h.startsWith('Basic ')) return undefined
  const raw = Buffer.from(h.slice(6), 'base64').toString()
  return decodeURIComponent(raw.split(':')[0])
}
const grant = (b) =>
  b.grant_type === 'authorization_code' ? codes.get(b.code)
    : b.grant_type === 'refresh_token' ? refresh.get(b.refresh_token) : undefined

server.service.on('beforeAuthorizeRedirect', (redirect, req) => {
  const code = redirect.url.searchParams.get('code')
  if (code) {
    codes.set(code, {
      clientId: req.query.client_id, redirectUri: req.query.redirect_uri, scope: req.query.scope,
      pkce: !!req.query.code_challenge, sub: req.query.login_hint || defaultSubject,
    })
  }
})

server.service.on('beforeTokenSigning', (token, req) => {
  token.payload.exp = token.payload.iat + ttl
  token.payload.jti = randomUUID()
  const g = grant(req.body)
  if (token.payload.sub) token.payload.sub = g?.sub ?? defaultSubject
  const scope = req.body.scope ?? g?.scope
  if (scope && 'scope' in token.payload) token.payload.scope = scope
})

server.service.on('beforeResponse', (resp, req) => {
  const b = req.body
  const g = grant(b)
  let clientId = b.client_id ?? basicClient(req)
  let family = randomUUID()
  if (b.grant_type === 'authorization_code') {
    codes.delete(b.code)
    if (!g) return invalidGrant(resp, 'unknown or already used authorization code')
    if (g.redirectUri !== b.redirect_uri) return invalidGrant(resp, 'redirect_uri does not match')
    if (g.clientId && clientId && g.clientId !== clientId) return invalidGrant(resp, 'client_id does not match')
    if (g.pkce && !b.code_verifier) return invalidGrant(resp, 'code_verifier required')
    clientId = g.clientId
  }
  if (b.grant_type === 'refresh_token') {
    if (!g) {
      const stolen = spent.get(b.refresh_token)
      if (stolen) {
        for (const [t, r] of refresh) if (r.family === stolen) refresh.delete(t)
        return invalidGrant(resp, 'refresh token already used; the token family is revoked')
      }
      return invalidGrant(resp, 'unknown or revoked refresh token')
    }
    refresh.delete(b.refresh_token)
    spent.set(b.refresh_token, g.family)
    clientId = g.clientId
    family = g.family
    counters.refreshes += 1
  }
  if (resp.statusCode !== 200) return
  const scope = b.scope ?? g?.scope
  resp.body.expires_in = ttl
  if (scope) resp.body.scope = scope
  const sub = g?.sub ?? defaultSubject
  access.set(resp.body.access_token, { sub, exp: Date.now() + ttl * 1000 })
  if (resp.body.refresh_token) refresh.set(resp.body.refresh_token, { clientId, scope, sub, family })
})

const app = express()
app.disable('x-powered-by')
app.get('/userinfo', (req, res) => {
  const h = req.headers.authorization || ''
  const a = h.startsWith('Bearer ') ? access.get(h.slice(7)) : undefined
  if (!a || a.exp <= Date.now()) {
    res.set('WWW-Authenticate', 'Bearer error="invalid_token"')
    return res.status(401).json({ error: 'invalid_token', error_description: 'unknown, expired or revoked access token' })
  }
  res.json({ sub: a.sub, preferred_username: a.sub, name: a.sub })
})
app.post('/revoke', express.urlencoded({ extended: false }), (req, res) => {
  const token = req.body?.token
  if (!token) return res.status(400).json({ error: 'invalid_request', error_description: 'token is required' })
  access.delete(token)
  refresh.delete(token)
  res.status(200).send('')
})
app.get('/healthz', (_req, res) => res.json({ ok: true, ...counters }))
app.use(server.service.requestHandler)

const listener = http.createServer(app)
listener.listen(port, host, () => {
  console.log(`quflux oauth server on http://${host}:${port}, token ttl ${ttl}s`)
})
const stop = () => listener.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
