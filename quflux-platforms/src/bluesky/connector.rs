//! App-password sessions: login, rotating refresh, revocation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use quflux_core::{
    Clock, Error, ErrorKind, Platform, PlatformConnection, Result, Secret, SystemClock,
};
use serde_json::{Value, json};

use super::PLATFORM;
use super::config::BlueskyConfig;
use super::xrpc::{Body, Xrpc, field};
use crate::common::oauth::AuthorizationRequest;
use crate::common::{
    AuthorizeOptions, ConnectedAccount, Connector, Idempotency, TokenRefresher, TokenSet,
};

/// Metadata key of the account's PDS on a connection.
pub const PDS_URL_KEY: &str = "pds_url";

/// Lifetime assumed for an access JWT whose `exp` cannot be read (the PDS issues 2 h).
const DEFAULT_ACCESS_LIFETIME: Duration = Duration::from_secs(2 * 3600);

/// Connects Bluesky accounts with app passwords and refreshes their sessions.
///
/// Bluesky has no OAuth flow here: [`Connector::authorize`] answers [`Error::Unsupported`];
/// use [`Connector::login`] (`com.atproto.server.createSession`). The account's DID becomes the
/// connection's `platform_user_id`, its PDS (from the session's DID document) the connection's
/// `metadata.pds_url`.
#[derive(Debug, Clone)]
pub struct BlueskyConnector {
    config: BlueskyConfig,
    xrpc: Xrpc,
}

impl BlueskyConnector {
    /// A connector with `config`.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(config: BlueskyConfig) -> Result<Self> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub(crate) fn with_clock(config: BlueskyConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let xrpc = Xrpc::new(config.http.client()?, clock);
        Ok(Self { config, xrpc })
    }

    /// The PDS of `connection`: its `metadata.pds_url`, else the configured one.
    pub fn pds_of(&self, connection: &PlatformConnection) -> String {
        connection
            .metadata
            .get(PDS_URL_KEY)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or_else(|| self.config.pds_url.clone(), str::to_owned)
    }

    fn account(&self, base: &str, session: &Value) -> Result<ConnectedAccount> {
        let did = field(session, "did")?.to_owned();
        let handle = field(session, "handle")?.to_owned();
        let tokens = self.tokens(session)?;
        let pds = pds_endpoint(session)
            .filter(|endpoint| !same_loopback(endpoint, base))
            .unwrap_or_else(|| base.trim_end_matches('/').to_owned());
        Ok(ConnectedAccount {
            platform: Platform::Bluesky,
            platform_user_id: did,
            username: handle,
            tokens,
            metadata: json!({ PDS_URL_KEY: pds }),
        })
    }

    fn tokens(&self, session: &Value) -> Result<TokenSet> {
        let access = field(session, "accessJwt")?.to_owned();
        let refresh = field(session, "refreshJwt")?.to_owned();
        let now = self.xrpc.now().timestamp();
        let expires_in = jwt_exp(&access)
            .map(|exp| Duration::from_secs(u64::try_from(exp - now).unwrap_or(0)))
            .unwrap_or(DEFAULT_ACCESS_LIFETIME);
        Ok(TokenSet {
            access_token: Secret::new(access),
            refresh_token: Some(Secret::new(refresh)),
            expires_in: Some(expires_in),
            scopes: Vec::new(),
        })
    }
}

#[async_trait]
impl TokenRefresher for BlueskyConnector {
    fn shared(&self) -> Option<std::sync::Arc<dyn TokenRefresher>> {
        // Single-use rotating refresh tokens: the whole exchange must survive a cancelled caller.
        Some(std::sync::Arc::new(self.clone()))
    }

    async fn refresh_tokens(
        &self,
        connection: &PlatformConnection,
        refresh_token: &Secret<String>,
    ) -> Result<TokenSet> {
        let reply = self
            .xrpc
            .procedure(
                &self.pds_of(connection),
                "com.atproto.server.refreshSession",
                Some(refresh_token),
                Body::None,
                Idempotency::Safe,
            )
            .await
            .map_err(|f| f.error)?;
        self.tokens(&reply.body)
    }
}

#[async_trait]
impl Connector for BlueskyConnector {
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::Bluesky]
    }

    async fn authorize(
        &self,
        _platform: Platform,
        _options: &AuthorizeOptions,
    ) -> Result<(AuthorizationRequest, Value)> {
        Err(Error::Unsupported {
            service: PLATFORM,
            operation: "OAuth authorization (connect with an app password)",
        })
    }

    async fn complete(
        &self,
        _platform: Platform,
        _code: &str,
        _pkce_verifier: Option<&Secret<String>>,
        _context: &Value,
    ) -> Result<Vec<ConnectedAccount>> {
        Err(Error::Unsupported {
            service: PLATFORM,
            operation: "OAuth authorization (connect with an app password)",
        })
    }

    async fn login(
        &self,
        _platform: Platform,
        identifier: &str,
        password: &Secret<String>,
        options: &AuthorizeOptions,
    ) -> Result<Vec<ConnectedAccount>> {
        let identifier = identifier.trim().trim_start_matches('@');
        if identifier.is_empty() {
            return Err(Error::invalid_input(
                "identifier",
                "a handle, DID or e-mail is required",
            ));
        }
        let base = options
            .instance
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| self.config.pds_url.clone());
        let reply = self
            .xrpc
            .procedure(
                &base,
                "com.atproto.server.createSession",
                None,
                Body::Json(json!({ "identifier": identifier, "password": password.expose() })),
                Idempotency::Safe,
            )
            .await
            .map_err(|f| match f.error.kind() {
                ErrorKind::AuthExpired => Error::invalid_input(
                    "password",
                    format!(
                        "Bluesky refused the login of {identifier} (wrong identifier or app password, or a sign-in code is required)"
                    ),
                ),
                _ => f.error,
            })?;
        Ok(vec![self.account(&base, &reply.body)?])
    }

    async fn revoke(
        &self,
        connection: &PlatformConnection,
        access_token: &Secret<String>,
        refresh_token: Option<&Secret<String>>,
    ) -> Result<()> {
        self.xrpc
            .procedure(
                &self.pds_of(connection),
                "com.atproto.server.deleteSession",
                Some(refresh_token.unwrap_or(access_token)),
                Body::None,
                Idempotency::Safe,
            )
            .await
            .map(|_| ())
            .map_err(|f| f.error)
    }
}

/// The `exp` claim of a JWT (payload decoded, signature not verified).
pub(crate) fn jwt_exp(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()
}

/// The `#atproto_pds` service endpoint of the session's DID document.
fn pds_endpoint(session: &Value) -> Option<String> {
    session
        .get("didDoc")?
        .get("service")?
        .as_array()?
        .iter()
        .find(|s| {
            s.get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| id.ends_with("#atproto_pds"))
        })?
        .get("serviceEndpoint")?
        .as_str()
        .map(|s| s.trim_end_matches('/').to_owned())
}

/// Whether two URLs are the same port on loopback (`localhost` vs `127.0.0.1`): a local PDS
/// advertises `localhost`, which may resolve to an address it does not listen on.
fn same_loopback(a: &str, b: &str) -> bool {
    let parse = |s: &str| url::Url::parse(s).ok();
    let (Some(a), Some(b)) = (parse(a), parse(b)) else {
        return false;
    };
    let loopback = |u: &url::Url| {
        matches!(
            u.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
    };
    loopback(&a) && loopback(&b) && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exp_claim_is_read_without_verification() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"scope":"com.atproto.appPass","sub":"did:plc:x","exp":1790000000}"#);
        assert_eq!(
            jwt_exp(&format!("eyJhbGciOiJIUzI1NiJ9.{payload}.sig")),
            Some(1_790_000_000)
        );
        assert_eq!(jwt_exp("not a jwt"), None);
    }

    #[test]
    fn the_pds_comes_from_the_did_document() {
        let session = json!({"didDoc": {"service": [
            {"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
             "serviceEndpoint": "https://morel.us-east.host.bsky.network"}]}});
        assert_eq!(
            pds_endpoint(&session).as_deref(),
            Some("https://morel.us-east.host.bsky.network")
        );
        assert!(same_loopback(
            "http://localhost:2583",
            "http://127.0.0.1:2583/"
        ));
        assert!(!same_loopback(
            "http://localhost:2583",
            "https://bsky.social"
        ));
    }
}
