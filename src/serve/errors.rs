//! Error mapping: turns engine errors ([`AwsError`]) and the server's own
//! refusals (authentication, body size, routing) into the HTTP response each
//! protocol's clients parse.
//!
//! Takes in an [`ApiError`] and the [`Protocol`] of the request; gives out
//! the status, headers and body AWS would send:
//! - Rekognition (`json` 1.1): 400 for client errors, 500 for internal ones,
//!   body `{"__type": ..., "Message": ...}`;
//! - Connect (`rest-json`): the status of the error shape in the model
//!   (`ResourceNotFoundException` 404, `ThrottlingException` 429, ...), the
//!   `x-amzn-ErrorType` header and body `{"message": ..., "Message": ...}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::{AwsError, ErrorType};

/// The wire protocol of a request, which decides how errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Rekognition: `POST /` with `X-Amz-Target`, `application/x-amz-json-1.1`.
    Json11,
    /// Connect: operations on their own paths, `application/json`.
    RestJson,
}

impl Protocol {
    /// The `Content-Type` of this protocol's bodies.
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::Json11 => "application/x-amz-json-1.1",
            Protocol::RestJson => "application/json",
        }
    }

    /// The service name of this protocol's requests, as the SigV4
    /// credential scope must give it.
    pub fn service(self) -> &'static str {
        match self {
            Protocol::Json11 => "rekognition",
            Protocol::RestJson => "connect",
        }
    }

    /// The header that names the operation, which a signature must cover
    /// (else a signed request could be replayed as another operation).
    pub fn operation_header(self) -> Option<&'static str> {
        match self {
            Protocol::Json11 => Some("x-amz-target"),
            Protocol::RestJson => None,
        }
    }
}

/// An error as the server answers it: an AWS error code, a message and,
/// for the server's own errors, the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The AWS error code (`__type` / `x-amzn-ErrorType`).
    pub code: &'static str,
    /// What went wrong.
    pub message: String,
    /// A fixed status (authentication 403, body limit 413, unknown path 404);
    /// `None` lets the protocol decide from the code.
    pub status: Option<u16>,
}

impl ApiError {
    /// An error with a fixed status.
    pub fn with_status(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: Some(status),
        }
    }

    /// An error whose status the protocol decides (400 unless the model
    /// says otherwise).
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// `SerializationException`: the body is not the JSON the operation reads.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(ErrorType::SerializationException.as_str(), message)
    }

    /// `UnknownOperationException` (400): no such Rekognition operation.
    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new("UnknownOperationException", message)
    }

    /// The HTTP status this error gets under `protocol`.
    pub fn status(&self, protocol: Protocol) -> u16 {
        if let Some(s) = self.status {
            return s;
        }
        let internal = matches!(
            self.code,
            "InternalServerError" | "InternalServiceException" | "InternalFailure"
        );
        match protocol {
            Protocol::Json11 if internal => 500,
            Protocol::Json11 => 400,
            Protocol::RestJson => match self.code {
                _ if internal => 500,
                "ResourceNotFoundException" => 404,
                "ThrottlingException" => 429,
                "ConflictException"
                | "ResourceAlreadyExistsException"
                | "DuplicateResourceException"
                | "ResourceInUseException" => 409,
                _ => 400,
            },
        }
    }

    /// The response AWS would send for this error under `protocol`.
    pub fn into_response(self, protocol: Protocol) -> Response {
        let status = StatusCode::from_u16(self.status(protocol))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = match protocol {
            Protocol::Json11 => {
                serde_json::json!({ "__type": self.code, "Message": self.message })
            }
            Protocol::RestJson => {
                serde_json::json!({ "message": self.message, "Message": self.message })
            }
        };
        let mut resp = (status, body.to_string()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(protocol.content_type()),
        );
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        resp
    }
}

impl From<AwsError> for ApiError {
    fn from(e: AwsError) -> Self {
        // Connect's model names its internal error InternalServiceException,
        // Rekognition's InternalServerError; the engines say which.
        ApiError::new(e.kind.as_str(), e.message)
    }
}

impl From<ErrorType> for ApiError {
    fn from(kind: ErrorType) -> Self {
        ApiError::new(kind.as_str(), String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_protocol() {
        let nf: ApiError = AwsError::not_found("no such instance").into();
        assert_eq!(nf.status(Protocol::RestJson), 404);
        assert_eq!(nf.status(Protocol::Json11), 400);
        let internal = ApiError::new("InternalServiceException", "disk");
        assert_eq!(internal.status(Protocol::RestJson), 500);
        assert_eq!(internal.status(Protocol::Json11), 500);
        let throttled = ApiError::new("ThrottlingException", "slow down");
        assert_eq!(throttled.status(Protocol::RestJson), 429);
        let auth = ApiError::with_status("InvalidSignatureException", 403, "bad");
        assert_eq!(auth.status(Protocol::Json11), 403);
    }

    #[test]
    fn bodies_carry_code_and_message() {
        let r = ApiError::new("InvalidParameterException", "MaxResults: 0")
            .into_response(Protocol::RestJson);
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.headers().get("x-amzn-ErrorType").map(|v| v.as_bytes()),
            Some(&b"InvalidParameterException"[..])
        );
    }
}
