//! OAuth 2.0 authorization code flow with PKCE, refresh and revocation, on the `oauth2` crate.
//!
//! [`OAuthApp`] holds one platform application's registration (client id and secret, endpoint
//! URLs, scopes). It produces the authorize URL with a random `state` and an S256 PKCE
//! challenge, exchanges the callback's code, refreshes and revokes. Every failure maps into the
//! core error: a refused code is [`Error::InvalidInput`], a refused refresh token (spent,
//! rotated away, revoked: `invalid_grant`, `invalid_request`, ...) is [`Error::AuthExpired`],
//! refused client credentials (`invalid_client`, `unauthorized_client`) are [`Error::Config`]
//! (every connection would fail alike: no user can fix it by reconnecting), a throttled token
//! endpoint (429) is [`Error::RateLimited`], an unreachable or failing (5xx) one is
//! [`Error::Transient`]. Secrets travel in [`Secret`] and never reach `Debug`,
//! logs or errors.

use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, RevocationErrorResponseType, RevocationUrl, Scope, StandardErrorResponse,
    StandardRevocableToken, TokenResponse, TokenUrl,
};
use quflux_core::{Error, Result, Secret};

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (X confidential clients).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (LinkedIn, Meta, Mastodon).
    Body,
}

/// One platform application's OAuth registration.
#[derive(Clone)]
pub struct OAuthApp {
    /// Name used in errors (`"x"`, `"linkedin"`, ...).
    pub service: &'static str,
    /// Client id.
    pub client_id: String,
    /// Client secret; `None` for public clients.
    pub client_secret: Option<Secret<String>>,
    /// The user-facing authorize page.
    pub authorize_url: String,
    /// The token endpoint.
    pub token_url: String,
    /// The revocation endpoint, if the platform has one.
    pub revoke_url: Option<String>,
    /// Where the platform sends the user back.
    pub redirect_url: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// Whether to send a PKCE S256 challenge.
    pub pkce: bool,
    /// Client authentication style at the token endpoint.
    pub client_auth: ClientAuth,
    /// Separator between scopes in the authorize URL (`" "` by default; Meta uses `","`).
    pub scope_separator: &'static str,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("service", &self.service)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("revoke_url", &self.revoke_url)
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("pkce", &self.pkce)
            .finish()
    }
}

/// The start of an authorization: send the user to `url`, keep `state` and `pkce_verifier`
/// until the callback.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The authorize page with every parameter.
    pub url: String,
    /// The CSRF `state` the callback must echo.
    pub state: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: Option<Secret<String>>,
}

/// Tokens a token endpoint returned.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// The access token.
    pub access_token: Secret<String>,
    /// The refresh token, if one was issued (rotating platforms issue a new one each time).
    pub refresh_token: Option<Secret<String>>,
    /// Lifetime of the access token, if it expires.
    pub expires_in: Option<Duration>,
    /// Granted scopes, if the endpoint said.
    pub scopes: Vec<String>,
}

type Client = oauth2::Client<
    StandardErrorResponse<BasicErrorResponseType>,
    BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    StandardErrorResponse<RevocationErrorResponseType>,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// A token endpoint answered with a server error or 429, or could not be reached.
#[derive(Debug)]
struct Unavailable {
    message: String,
    /// `Some` for a 429, with the `Retry-After` if given.
    throttled: Option<Option<Duration>>,
    /// The request went out but its answer was lost (timeout, connection dropped): the
    /// endpoint may have applied it — with rotating refresh tokens, spent the old one.
    lost_answer: bool,
}

impl Unavailable {
    fn new(message: String) -> Self {
        Self {
            message,
            throttled: None,
            lost_answer: false,
        }
    }

    /// From a transport error: connection failures never reached the endpoint.
    fn transport(e: reqwest::Error) -> Self {
        let lost_answer = !e.is_connect() && !e.is_builder();
        Self {
            message: e.without_url().to_string(),
            throttled: None,
            lost_answer,
        }
    }
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Unavailable {}

impl OAuthApp {
    fn client(&self) -> Result<Client> {
        let config = |what: &str, e: &dyn std::fmt::Display| {
            Error::Config(format!("{} OAuth {what}: {e}", self.service))
        };
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(
                AuthUrl::new(self.authorize_url.clone())
                    .map_err(|e| config("authorize URL", &e))?,
            )
            .set_token_uri(
                TokenUrl::new(self.token_url.clone()).map_err(|e| config("token URL", &e))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(self.redirect_url.clone())
                    .map_err(|e| config("redirect URL", &e))?,
            )
            .set_revocation_url_option(
                self.revoke_url
                    .clone()
                    .map(RevocationUrl::new)
                    .transpose()
                    .map_err(|e| config("revocation URL", &e))?,
            )
            .set_auth_type(match self.client_auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::Body => AuthType::RequestBody,
            });
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().clone()));
        }
        Ok(client)
    }

    /// Builds the authorize URL with a fresh `state` (and PKCE challenge if enabled).
    pub fn authorize(&self) -> Result<AuthorizationRequest> {
        self.authorize_with(&[])
    }

    /// Like [`authorize`](Self::authorize), with extra query parameters.
    pub fn authorize_with(&self, extra: &[(&str, &str)]) -> Result<AuthorizationRequest> {
        let client = self.client()?;
        let mut request = client.authorize_url(CsrfToken::new_random);
        if !self.scopes.is_empty() {
            if self.scope_separator == " " {
                request = request.add_scopes(self.scopes.iter().cloned().map(Scope::new));
            } else {
                request = request.add_extra_param("scope", self.scopes.join(self.scope_separator));
            }
        }
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let mut verifier = None;
        if self.pkce {
            let (challenge, v) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            verifier = Some(Secret::new(v.secret().clone()));
        }
        let (url, state) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier,
        })
    }

    /// Exchanges the callback's `code`. A refused code is [`Error::InvalidInput`] on `code`.
    pub async fn exchange_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        pkce_verifier: Option<&Secret<String>>,
    ) -> Result<TokenSet> {
        let client = self.client()?;
        let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
        if let Some(v) = pkce_verifier {
            request = request.set_pkce_verifier(PkceCodeVerifier::new(v.expose().clone()));
        }
        let caller = caller(http);
        match request.request_async(&caller).await {
            Ok(token) => Ok(token_set(&token)),
            Err(RequestTokenError::ServerResponse(e)) => Err(Error::invalid_input(
                "code",
                format!(
                    "{} refused the authorization code: {}",
                    self.service,
                    describe(e.error().as_ref(), e.error_description())
                ),
            )),
            Err(e) => Err(self.unavailable(e)),
        }
    }

    /// Exchanges a refresh token. A refused refresh token (`invalid_grant`, `invalid_request`,
    /// `invalid_scope` or a platform-specific code) is [`Error::AuthExpired`]; refused client
    /// credentials (`invalid_client`, `unauthorized_client`) or an `unsupported_grant_type`
    /// are [`Error::Config`]; a 429 is [`Error::RateLimited`]; a 5xx or network failure is
    /// [`Error::Transient`].
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let client = self.client()?;
        let token = RefreshToken::new(refresh_token.expose().clone());
        let caller = caller(http);
        match client
            .exchange_refresh_token(&token)
            .request_async(&caller)
            .await
        {
            Ok(token) => Ok(token_set(&token)),
            Err(RequestTokenError::ServerResponse(e)) => {
                let described = describe(e.error().as_ref(), e.error_description());
                match e.error() {
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient
                    | BasicErrorResponseType::UnsupportedGrantType => Err(Error::Config(format!(
                        "{} refused this server's OAuth client credentials (client id {:?}) at the \
                         token endpoint: {described}; check the configured client id and secret",
                        self.service, self.client_id
                    ))),
                    _ => Err(Error::AuthExpired {
                        service: self.service,
                        source: Some(described.into()),
                    }),
                }
            }
            Err(e) => Err(self.unavailable(e)),
        }
    }

    /// Revokes a token at the revocation endpoint (no-op without one), as RFC 7009 says:
    /// a form `POST` of `token` and `token_type_hint`, with the client authenticated like at
    /// the token endpoint. A refusal (4xx) is [`Error::InvalidContent`]; an unreachable or
    /// failing (5xx) endpoint is [`Error::Transient`].
    ///
    /// Done by hand rather than through the `oauth2` crate, which refuses any revocation URL
    /// that is not `https` (so local servers and stand-ins could never be revoked at).
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        token: &Secret<String>,
        is_refresh_token: bool,
    ) -> Result<()> {
        let Some(url) = &self.revoke_url else {
            return Ok(());
        };
        let url = url::Url::parse(url)
            .map_err(|e| Error::Config(format!("{} OAuth revocation URL: {e}", self.service)))?;
        let hint = if is_refresh_token {
            "refresh_token"
        } else {
            "access_token"
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("token", token.expose().as_str()),
            ("token_type_hint", hint),
        ];
        let mut request = http.post(url);
        match (&self.client_secret, self.client_auth) {
            (Some(secret), ClientAuth::Basic) => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
                let encode = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                request =
                    request.basic_auth(encode(&self.client_id), Some(encode(secret.expose())));
            }
            (Some(secret), ClientAuth::Body) => {
                form.push(("client_id", self.client_id.as_str()));
                form.push(("client_secret", secret.expose().as_str()));
            }
            (None, _) => form.push(("client_id", self.client_id.as_str())),
        }
        let response = super::http::send(
            self.service,
            super::http::Idempotency::Safe,
            request.form(&form),
        )
        .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = super::http::body_bytes(self.service, super::http::Idempotency::Safe, response)
            .await
            .unwrap_or_default();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::transient(
                self.service,
                super::http::PlatformResponse::new(status, &body),
            ));
        }
        let described = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let error = v.get("error")?.as_str()?.to_owned();
                let description = v
                    .get("error_description")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned);
                Some(describe(&error, description.as_ref()))
            })
            .unwrap_or_else(|| super::http::PlatformResponse::new(status, &body).to_string());
        Err(Error::InvalidContent {
            service: self.service,
            reason: format!("token revocation refused: {described}"),
        })
    }

    fn unavailable<RE: std::error::Error + 'static, T: oauth2::ErrorResponse + 'static>(
        &self,
        e: RequestTokenError<RE, T>,
    ) -> Error {
        match e {
            RequestTokenError::Request(e) => {
                match (&e as &dyn std::error::Error).downcast_ref::<Unavailable>() {
                    Some(Unavailable {
                        message,
                        lost_answer: true,
                        ..
                    }) => Error::OutcomeUnknown {
                        service: self.service,
                        source: format!("the token endpoint's answer was lost: {message}").into(),
                    },
                    Some(Unavailable {
                        message,
                        throttled: Some(retry_after),
                        ..
                    }) => Error::RateLimited {
                        service: self.service,
                        retry_after: *retry_after,
                        source: Some(message.clone().into()),
                    },
                    _ => Error::transient(self.service, e.to_string()),
                }
            }
            RequestTokenError::Parse(e, _) => Error::other(
                self.service,
                format!("unreadable token endpoint answer: {e}"),
            ),
            other => Error::other(self.service, other.to_string()),
        }
    }
}

fn describe(error: &str, description: Option<&String>) -> String {
    match description {
        Some(d) => format!("{error} ({d})"),
        None => error.to_owned(),
    }
}

fn token_set(token: &BasicTokenResponse) -> TokenSet {
    TokenSet {
        access_token: Secret::new(token.access_token().secret().clone()),
        refresh_token: token
            .refresh_token()
            .map(|t| Secret::new(t.secret().clone())),
        expires_in: token.expires_in(),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    }
}

/// The `oauth2` crate's HTTP client, on our reqwest client. A 5xx answer becomes a request
/// error (transient), not an OAuth error response.
fn caller(
    http: &reqwest::Client,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = std::result::Result<oauth2::HttpResponse, Unavailable>>
            + Send,
    >,
> + '_ {
    move |request: oauth2::HttpRequest| {
        let http = http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = http
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(Unavailable::transport)?;
            let status = response.status();
            if status.is_server_error() {
                return Err(Unavailable::new(format!(
                    "token endpoint answered HTTP {status}"
                )));
            }
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                return Err(Unavailable {
                    message: format!("token endpoint answered HTTP {status}"),
                    throttled: Some(retry_after),
                    lost_answer: false,
                });
            }
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(Unavailable::transport)?;
            let mut out = oauth2::HttpResponse::new(body.to_vec());
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn app(base: &str, client_auth: ClientAuth) -> OAuthApp {
        OAuthApp {
            service: "test",
            client_id: "client:1".into(),
            client_secret: Some(Secret::new("s3cret".into())),
            authorize_url: format!("{base}/authorize"),
            token_url: format!("{base}/token"),
            revoke_url: Some(format!("{base}/revoke")),
            redirect_url: "http://127.0.0.1:1/callback".into(),
            scopes: vec!["a".into(), "b".into()],
            pkce: false,
            client_auth,
            scope_separator: ",",
        }
    }

    fn http() -> reqwest::Client {
        super::super::http::HttpConfig::default()
            .with_timeout(Duration::from_secs(2))
            .client()
            .unwrap()
    }

    #[test]
    fn a_custom_scope_separator_is_used_and_pkce_is_optional() {
        let request = app("http://127.0.0.1:1", ClientAuth::Body)
            .authorize()
            .unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        let scope = url
            .query_pairs()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned());
        assert_eq!(scope.as_deref(), Some("a,b"));
        assert!(request.pkce_verifier.is_none());
        assert!(!request.url.contains("code_challenge"));
    }

    #[tokio::test]
    async fn token_endpoint_answers_map_to_core_errors() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("refresh_token=spent"))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                serde_json::json!({"error": "invalid_grant", "error_description": "spent"}),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("refresh_token=down"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("code=bad"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "invalid_grant"})),
            )
            .mount(&server)
            .await;
        let app = app(&server.uri(), ClientAuth::Basic);
        let http = http();
        let e = app
            .refresh(&http, &Secret::new("spent".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::AuthExpired);
        let e = app
            .refresh(&http, &Secret::new("down".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::Transient);
        let e = app.exchange_code(&http, "bad", None).await.unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::InvalidInput);
        assert!(!format!("{e:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn a_refresh_whose_answer_is_lost_is_an_unknown_outcome_not_a_transient_failure() {
        // The endpoint may have rotated the refresh token: retrying it would spend it twice.
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({
                        "access_token": "new", "token_type": "bearer", "refresh_token": "r2"
                    }))
                    .set_delay(Duration::from_secs(10)),
            )
            .mount(&server)
            .await;
        let app = app(&server.uri(), ClientAuth::Basic);
        let e = app
            .refresh(&http(), &Secret::new("r1".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::OutcomeUnknown, "{e:?}");
        assert!(!e.is_retryable());
        // Nothing listening: nothing was sent, a plain transient failure.
        let closed = app_at_closed_port();
        let e = closed
            .refresh(&http(), &Secret::new("r1".into()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::Transient, "{e:?}");
    }

    fn app_at_closed_port() -> OAuthApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        app(&format!("http://127.0.0.1:{port}"), ClientAuth::Basic)
    }

    #[tokio::test]
    async fn only_token_problems_on_a_refresh_mean_the_connection_needs_reauth() {
        let server = MockServer::start().await;
        let answer = |token: &str, status: u16, body: serde_json::Value| {
            Mock::given(method("POST"))
                .and(path("/token"))
                .and(body_string_contains(format!("refresh_token={token}")))
                .respond_with(ResponseTemplate::new(status).set_body_json(body))
        };
        for (token, status, error) in [
            ("spent", 400, "invalid_grant"),
            ("request", 400, "invalid_request"),
            ("client", 401, "invalid_client"),
            ("unauthorized", 401, "unauthorized_client"),
            ("granttype", 400, "unsupported_grant_type"),
            ("vendor", 400, "token_family_revoked"),
        ] {
            answer(
                token,
                status,
                serde_json::json!({"error": error, "error_description": "why"}),
            )
            .mount(&server)
            .await;
        }
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains("refresh_token=busy"))
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after", "17")
                    .set_body_json(serde_json::json!({"error": "too_many_requests"})),
            )
            .mount(&server)
            .await;
        let app = app(&server.uri(), ClientAuth::Basic);
        let http = http();
        let refresh = |t: &'static str| {
            let app = app.clone();
            let http = http.clone();
            async move {
                app.refresh(&http, &Secret::new(t.into()))
                    .await
                    .unwrap_err()
            }
        };
        use quflux_core::ErrorKind;
        for token in ["spent", "request", "vendor"] {
            let e = refresh(token).await;
            assert_eq!(e.kind(), ErrorKind::AuthExpired, "{token}: {e:?}");
        }
        for token in ["client", "unauthorized", "granttype"] {
            let e = refresh(token).await;
            assert_eq!(e.kind(), ErrorKind::Config, "{token}: {e:?}");
            let text = e.to_string();
            assert!(text.contains("client id"), "{text}");
            assert!(text.contains("client:1"), "{text}");
            assert!(!text.contains("s3cret"), "{text}");
        }
        let e = refresh("busy").await;
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(17)));
    }

    #[tokio::test]
    async fn revocation_follows_rfc_7009_on_plain_http() {
        let server = MockServer::start().await;
        // Basic auth of "client%3A1:s3cret" (RFC 6749 §2.3.1 encoding).
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .and(header("authorization", "Basic Y2xpZW50JTNBMTpzM2NyZXQ="))
            .and(body_string_contains("token=tok-1"))
            .and(body_string_contains("token_type_hint=refresh_token"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .and(body_string_contains("client_secret=s3cret"))
            .and(body_string_contains("token=tok-2"))
            .and(body_string_contains("token_type_hint=access_token"))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .and(body_string_contains("token=down"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/revoke"))
            .and(body_string_contains("token=odd"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(serde_json::json!({"error": "unsupported_token_type"})),
            )
            .mount(&server)
            .await;
        let http = http();
        let basic = app(&server.uri(), ClientAuth::Basic);
        let body = app(&server.uri(), ClientAuth::Body);
        basic
            .revoke(&http, &Secret::new("tok-1".into()), true)
            .await
            .unwrap();
        body.revoke(&http, &Secret::new("tok-2".into()), false)
            .await
            .unwrap();
        let e = basic
            .revoke(&http, &Secret::new("down".into()), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::Transient);
        let e = basic
            .revoke(&http, &Secret::new("odd".into()), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), quflux_core::ErrorKind::InvalidContent);
        assert!(e.to_string().contains("unsupported_token_type"), "{e}");
        // Without a revocation endpoint there is nothing to do.
        let mut none = basic.clone();
        none.revoke_url = None;
        none.revoke(&http, &Secret::new("x".into()), false)
            .await
            .unwrap();
    }
}
