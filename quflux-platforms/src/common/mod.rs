//! Machinery shared by every platform adapter: HTTP and error mapping ([`http`]), OAuth 2.0
//! ([`oauth`]), the token state machine ([`tokens`]), per-account rate budgets ([`rate`]),
//! the connection flow ([`connect`]) and content fingerprints for reconciliation
//! ([`fingerprint`]).

pub mod connect;
pub mod fingerprint;
pub mod http;
pub mod oauth;
pub mod rate;
pub mod sent;
pub mod tokens;
pub(crate) mod vars;

pub use connect::{
    AuthorizeOptions, ConnectedAccount, ConnectionService, ConnectionStart, Connector,
};
pub use http::{HttpConfig, Idempotency};
pub use oauth::{AuthorizationRequest, ClientAuth, OAuthApp, TokenSet};
pub use rate::{Limit, RateBudgets};
pub use sent::SendLog;
pub use tokens::{Credentials, TokenManager, TokenPolicy, TokenRefresher};
