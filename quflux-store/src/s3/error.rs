//! The S3 wire error and the one place that maps SDK failures to [`quflux_core::Error`].

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use quflux_core::{BoxError, Error};

use super::BACKEND;

/// What an S3 call failed with, kept as the source of a core error. It holds the status, the
/// error code and message, and the request id of the response; never a request (which carries
/// the signature) or a credential.
#[derive(Debug, thiserror::Error)]
pub(super) enum S3Error {
    /// The server answered with an error.
    #[error(
        "{operation} answered HTTP {status}{}{}{}",
        code_part(code),
        message_part(message),
        request_id_part(request_id)
    )]
    Service {
        /// The S3 operation, e.g. `PutObject`.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The S3 error code, e.g. `NoSuchKey`.
        code: Option<String>,
        /// The server's message.
        message: Option<String>,
        /// `x-amz-request-id`, for the provider's support.
        request_id: Option<String>,
    },
    /// No usable answer: the connection, a timeout, an unparseable response.
    #[error("{operation} failed before an answer was read")]
    Transport {
        /// The S3 operation.
        operation: &'static str,
        /// The SDK's failure.
        #[source]
        source: BoxError,
    },
    /// An answer that breaks the protocol (e.g. no upload id).
    #[error("{operation}: {what}")]
    Protocol {
        /// The S3 operation.
        operation: &'static str,
        /// What was wrong.
        what: &'static str,
    },
}

fn code_part(code: &Option<String>) -> String {
    code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
}

fn message_part(message: &Option<String>) -> String {
    message
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn request_id_part(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

/// What a failed call was about, for the mapped error's message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call<'a> {
    /// The S3 operation, e.g. `GetObject`.
    pub(super) operation: &'static str,
    /// The bucket.
    pub(super) bucket: &'a str,
    /// The blob key (without the prefix), for object calls.
    pub(super) key: Option<&'a str>,
}

impl Call<'_> {
    /// The thing that was not found.
    fn missing(&self) -> String {
        match self.key {
            Some(key) => format!("blob {key}"),
            None => format!("s3 bucket {}", self.bucket),
        }
    }
}

/// Error codes that mean the credentials, the signature or the permissions are wrong.
const REFUSED_CODES: &[&str] = &[
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidSecurity",
    "InvalidToken",
    "NotSignedUp",
    "RequestTimeTooSkewed",
    "SignatureDoesNotMatch",
];

/// Error codes that mean "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "RequestLimitExceeded",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
];

/// Maps a failed SDK call: a missing object is `NotFound`; refused credentials or signatures and
/// a missing bucket are `Config` (with a message naming what to check, never a secret); network
/// failures, timeouts, throttling and 5xx are `Transient`; anything else is `Other`.
pub(super) fn classify<E>(err: SdkError<E>, call: Call<'_>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = call.operation;
    let SdkError::ServiceError(context) = err else {
        let transient = match &err {
            SdkError::TimeoutError(_) => true,
            SdkError::DispatchFailure(failure) => !failure.is_user(),
            SdkError::ResponseError(response) => {
                let status = response.raw().status().as_u16();
                status >= 500 || status == 429 || response.raw().status().is_success()
            }
            _ => false,
        };
        let source = match err.into_source() {
            Ok(source) => source,
            Err(err) => Box::new(err),
        };
        let source = S3Error::Transport { operation, source };
        return if transient {
            Error::transient(BACKEND, source)
        } else {
            Error::other(BACKEND, source)
        };
    };
    let status = context.raw().status().as_u16();
    let request_id = context
        .raw()
        .headers()
        .get("x-amz-request-id")
        .map(str::to_owned);
    let service = context.err();
    let code = service.code().map(str::to_owned);
    let message = service.message().map(str::to_owned);
    let source = S3Error::Service {
        operation,
        status,
        code: code.clone(),
        message,
        request_id,
    };
    let code = code.as_deref();
    match (status, code) {
        (_, Some("NoSuchBucket")) => Error::Config(format!(
            "s3: bucket `{}` does not exist ({operation} answered NoSuchBucket); create it or \
             call S3BlobStore::ensure_bucket",
            call.bucket
        )),
        (_, Some("NoSuchKey" | "NotFound")) | (404, None) => Error::not_found(call.missing()),
        (_, Some(code)) if REFUSED_CODES.contains(&code) => refused(call, code),
        (401 | 403, code) => refused(call, code.unwrap_or("HTTP 403")),
        (_, Some(code)) if TRANSIENT_CODES.contains(&code) => Error::transient(BACKEND, source),
        (429 | 500..=599, _) => Error::transient(BACKEND, source),
        (_, Some("InvalidBucketName")) => Error::Config(format!(
            "s3: the server refused the bucket name `{}` (InvalidBucketName); with a custom \
             endpoint, check QUFLUX_S3_FORCE_PATH_STYLE",
            call.bucket
        )),
        _ => Error::other(BACKEND, source),
    }
}

/// The credentials, the signature or the permissions were refused.
fn refused(call: Call<'_>, code: &str) -> Error {
    Error::Config(format!(
        "s3: {} on bucket `{}` was refused ({code}); check the access key id, the secret access \
         key, the region and the bucket's permissions",
        call.operation, call.bucket
    ))
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use quflux_core::ErrorKind;

    use super::*;

    const CALL: Call<'static> = Call {
        operation: "GetObject",
        bucket: "media",
        key: Some("u1/cat.png"),
    };

    fn response(status: u16) -> HttpResponse {
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from("<Error/>"),
        );
        response.headers_mut().insert("x-amz-request-id", "req-123");
        response
    }

    fn service(status: u16, code: Option<&str>) -> SdkError<GetObjectError> {
        let mut meta = ErrorMetadata::builder().message("the server's words");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let err = GetObjectError::generic(meta.build());
        SdkError::service_error(err, response(status))
    }

    #[test]
    fn missing_objects_are_not_found() {
        let err = GetObjectError::NoSuchKey(NoSuchKey::builder().build());
        let mapped = classify(SdkError::service_error(err, response(404)), CALL);
        assert_eq!(mapped.kind(), ErrorKind::NotFound);
        assert_eq!(mapped.to_string(), "blob u1/cat.png not found");
        assert_eq!(
            classify(service(404, None), CALL).kind(),
            ErrorKind::NotFound
        );
    }

    #[test]
    fn refused_credentials_are_config_errors_naming_the_code() {
        for code in [
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId",
            "AccessDenied",
        ] {
            let mapped = classify(service(403, Some(code)), CALL);
            assert_eq!(mapped.kind(), ErrorKind::Config, "{code}");
            let text = mapped.to_string();
            assert!(text.contains(code) && text.contains("`media`"), "{text}");
        }
        // HEAD answers carry no body, hence no code.
        let head = classify(service(403, None), CALL);
        assert_eq!(head.kind(), ErrorKind::Config);
    }

    #[test]
    fn missing_bucket_is_a_config_error() {
        let mapped = classify(service(404, Some("NoSuchBucket")), CALL);
        assert_eq!(mapped.kind(), ErrorKind::Config);
        assert!(mapped.to_string().contains("ensure_bucket"), "{mapped}");
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (status, code) in [
            (503, Some("SlowDown")),
            (500, Some("InternalError")),
            (400, Some("RequestTimeout")),
            (502, None),
            (429, None),
        ] {
            let mapped = classify(service(status, code), CALL);
            assert_eq!(mapped.kind(), ErrorKind::Transient, "{status} {code:?}");
            assert!(mapped.is_retryable());
        }
        let mapped = classify(service(503, Some("SlowDown")), CALL);
        assert_eq!(
            mapped.detailed_message(),
            "s3 is temporarily unavailable: GetObject answered HTTP 503 SlowDown: the server's \
             words (request id req-123)"
        );
    }

    #[test]
    fn network_failures_and_timeouts_are_transient() {
        let refused = ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let mapped = classify(SdkError::<GetObjectError>::dispatch_failure(refused), CALL);
        assert_eq!(mapped.kind(), ErrorKind::Transient);
        assert!(
            mapped.detailed_message().contains("connection refused"),
            "{}",
            mapped.detailed_message()
        );
        let timeout = SdkError::<GetObjectError>::timeout_error("operation timed out");
        assert_eq!(classify(timeout, CALL).kind(), ErrorKind::Transient);
    }

    #[test]
    fn other_client_errors_are_other() {
        let mapped = classify(service(400, Some("InvalidArgument")), CALL);
        assert_eq!(mapped.kind(), ErrorKind::Other);
        let built = SdkError::<GetObjectError>::construction_failure("bad input");
        assert_eq!(classify(built, CALL).kind(), ErrorKind::Other);
    }
}
