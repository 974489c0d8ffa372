//! The one contract error every port and service returns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A boxed error used as the source of a [`enum@Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the core [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One rule a post breaks on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Violation {
    /// Stable rule id, e.g. `twitter.text.too_long`.
    pub rule: String,
    /// Human-readable explanation with the numbers involved.
    pub message: String,
}

/// What went wrong, phrased as what the caller should do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Throttled; retry no earlier than `retry_after` if given.
    #[error("{service} rate limit reached")]
    RateLimited {
        /// The throttling service.
        service: &'static str,
        /// How long to wait, if the service said.
        retry_after: Option<Duration>,
        /// The raw response, secrets stripped.
        #[source]
        source: Option<BoxError>,
    },
    /// Token expired or revoked; the connection needs re-authorization.
    #[error("{service} credentials expired or revoked")]
    AuthExpired {
        /// The refusing service.
        service: &'static str,
        /// The raw response, secrets stripped.
        #[source]
        source: Option<BoxError>,
    },
    /// Content refused by a platform (too long, duplicate, bad media).
    #[error("{service} rejected the content: {reason}")]
    InvalidContent {
        /// The refusing service.
        service: &'static str,
        /// What the service said.
        reason: String,
    },
    /// A post breaks platform rules; found before anything was sent.
    #[error("the post breaks {} platform rule(s): {}", violations.len(), first_rule(violations))]
    Validation {
        /// Every violated rule.
        violations: Vec<Violation>,
    },
    /// A request argument is malformed or out of range.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Not applied; may succeed later (connect error, 502/503, pool timeout).
    #[error("{service} is temporarily unavailable")]
    Transient {
        /// The unavailable service.
        service: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// A non-idempotent request was sent; its result is unknown.
    #[error("{service} did not confirm the request")]
    OutcomeUnknown {
        /// The service that did not answer.
        service: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// The thing does not exist (or belongs to someone else).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// Modified concurrently, or would duplicate a unique value.
    #[error("{what} was modified concurrently or already exists")]
    Conflict {
        /// What conflicted.
        what: String,
    },
    /// The operation is not offered by this backend or platform.
    #[error("{operation} is not supported by {service}")]
    Unsupported {
        /// The backend or platform.
        service: &'static str,
        /// The operation.
        operation: &'static str,
    },
    /// Invalid configuration; names the setting.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Anything else.
    #[error("{service} failed")]
    Other {
        /// The failing service.
        service: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
}

fn first_rule(violations: &[Violation]) -> &str {
    violations
        .first()
        .map(|v| v.rule.as_str())
        .unwrap_or("none")
}

/// The fieldless mirror of [`enum@Error`]: for metrics labels, stored failure reasons and HTTP mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::RateLimited`].
    RateLimited,
    /// See [`Error::AuthExpired`].
    AuthExpired,
    /// See [`Error::InvalidContent`].
    InvalidContent,
    /// See [`Error::Validation`].
    Validation,
    /// See [`Error::InvalidInput`].
    InvalidInput,
    /// See [`Error::Transient`].
    Transient,
    /// See [`Error::OutcomeUnknown`].
    OutcomeUnknown,
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Unsupported`].
    Unsupported,
    /// See [`Error::Config`].
    Config,
    /// See [`Error::Other`].
    Other,
}

impl ErrorKind {
    /// Stable snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::AuthExpired => "auth_expired",
            Self::InvalidContent => "invalid_content",
            Self::Validation => "validation",
            Self::InvalidInput => "invalid_input",
            Self::Transient => "transient",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Unsupported => "unsupported",
            Self::Config => "config",
            Self::Other => "other",
        }
    }

    /// Parses [`ErrorKind::as_str`]; unknown names map to [`ErrorKind::Other`].
    pub fn parse(s: &str) -> Self {
        match s {
            "rate_limited" => Self::RateLimited,
            "auth_expired" => Self::AuthExpired,
            "invalid_content" => Self::InvalidContent,
            "validation" => Self::Validation,
            "invalid_input" => Self::InvalidInput,
            "transient" => Self::Transient,
            "outcome_unknown" => Self::OutcomeUnknown,
            "not_found" => Self::NotFound,
            "conflict" => Self::Conflict,
            "unsupported" => Self::Unsupported,
            "config" => Self::Config,
            _ => Self::Other,
        }
    }
}

impl Error {
    /// The classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::RateLimited { .. } => ErrorKind::RateLimited,
            Self::AuthExpired { .. } => ErrorKind::AuthExpired,
            Self::InvalidContent { .. } => ErrorKind::InvalidContent,
            Self::Validation { .. } => ErrorKind::Validation,
            Self::InvalidInput { .. } => ErrorKind::InvalidInput,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Unsupported { .. } => ErrorKind::Unsupported,
            Self::Config(_) => ErrorKind::Config,
            Self::Other { .. } => ErrorKind::Other,
        }
    }

    /// Whether the same request may succeed if simply sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Transient { .. })
    }

    /// How long the service asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Other`] from any error.
    pub fn other(service: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Other {
            service,
            source: source.into(),
        }
    }

    /// Shorthand for [`Error::Transient`] from any error.
    pub fn transient(service: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Transient {
            service,
            source: source.into(),
        }
    }

    /// The full message including the chain of sources, for logs and stored failure reasons.
    pub fn detailed_message(&self) -> String {
        let mut out = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_errors_are_rate_limits_and_transients() {
        let rl = Error::RateLimited {
            service: "x",
            retry_after: Some(Duration::from_secs(9)),
            source: None,
        };
        assert!(rl.is_retryable());
        assert_eq!(rl.retry_after(), Some(Duration::from_secs(9)));
        let unknown = Error::OutcomeUnknown {
            service: "x",
            source: "timeout".into(),
        };
        assert!(!unknown.is_retryable());
        assert_eq!(unknown.kind(), ErrorKind::OutcomeUnknown);
        assert_eq!(
            ErrorKind::parse(unknown.kind().as_str()),
            ErrorKind::OutcomeUnknown
        );
    }

    #[test]
    fn detailed_message_includes_sources() {
        let e = Error::transient("db", std::io::Error::other("connection reset"));
        assert_eq!(
            e.detailed_message(),
            "db is temporarily unavailable: connection reset"
        );
    }
}
