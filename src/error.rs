//! The one error type every AWS-shaped boundary returns: an AWS error code
//! (`__type`) and a human message.
//!
//! Both services (Connect and Rekognition) answer bad input the way AWS does:
//! with a named exception and a message. [`AwsError`] carries exactly that,
//! and [`AwsError::to_json`] renders the `{"__type": ..., "Message": ...}`
//! body the CLI prints and the server sends.

use std::fmt;

/// The AWS error codes this engine returns (`__type`).
///
/// Each variant's doc names a request that triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorType {
    /// A parameter breaks a rule: `{"StringCondition": {"FieldName": "username", "Value": "", ...}}`.
    InvalidParameterException,
    /// The request as a whole is not allowed: `TagFilter` together with `UserAttributeFilter`.
    InvalidRequestException,
    /// A named resource does not exist: an unknown `InstanceId` or `CollectionId`.
    ResourceNotFoundException,
    /// A resource with that id exists already: `CreateUser` with a taken `UserId`.
    ResourceAlreadyExistsException,
    /// The request conflicts with the resource's state: `CreateUser` with an existing `UserId`.
    ConflictException,
    /// Connect: a name already taken: `CreateUser` with a `Username` another user of the instance has.
    DuplicateResourceException,
    /// Connect: the resource is still used: `DeleteUserHierarchyGroup` of a group with users.
    ResourceInUseException,
    /// `Image` is not a float32 `.npy` vector file.
    InvalidImageFormatException,
    /// A quota would be exceeded: a 101st face for one user.
    ServiceQuotaExceededException,
    /// A `ClientRequestToken` reused with other parameters.
    IdempotentParameterMismatchException,
    /// The request body is not valid JSON of the expected shape.
    SerializationException,
    /// A Rekognition `NextToken` that this engine did not issue.
    InvalidPaginationTokenException,
    /// `Image.Bytes` above the 5 MB limit Rekognition applies.
    ImageTooLargeException,
    /// Connect's internal failure (storage error); the request may be retried.
    InternalServiceException,
    /// Rekognition's internal failure (storage error); the request may be retried.
    InternalServerError,
}

impl ErrorType {
    /// The `__type` string AWS uses for this error.
    ///
    /// ```
    /// use rollcall::ErrorType;
    /// assert_eq!(ErrorType::InvalidParameterException.as_str(), "InvalidParameterException");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidParameterException => "InvalidParameterException",
            ErrorType::InvalidRequestException => "InvalidRequestException",
            ErrorType::ResourceNotFoundException => "ResourceNotFoundException",
            ErrorType::ResourceAlreadyExistsException => "ResourceAlreadyExistsException",
            ErrorType::ConflictException => "ConflictException",
            ErrorType::DuplicateResourceException => "DuplicateResourceException",
            ErrorType::ResourceInUseException => "ResourceInUseException",
            ErrorType::InvalidImageFormatException => "InvalidImageFormatException",
            ErrorType::ServiceQuotaExceededException => "ServiceQuotaExceededException",
            ErrorType::IdempotentParameterMismatchException => {
                "IdempotentParameterMismatchException"
            }
            ErrorType::SerializationException => "SerializationException",
            ErrorType::InvalidPaginationTokenException => "InvalidPaginationTokenException",
            ErrorType::ImageTooLargeException => "ImageTooLargeException",
            ErrorType::InternalServiceException => "InternalServiceException",
            ErrorType::InternalServerError => "InternalServerError",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An AWS-shaped error: the code AWS would return and a message that names
/// the offending part of the request.
///
/// ```
/// use rollcall::{AwsError, ErrorType};
/// let e = AwsError::invalid_parameter("MaxResults: must be 1..500, got 0");
/// assert_eq!(e.kind, ErrorType::InvalidParameterException);
/// assert_eq!(
///     e.to_json().to_string(),
///     r#"{"__type":"InvalidParameterException","Message":"MaxResults: must be 1..500, got 0"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct AwsError {
    /// The AWS error code.
    pub kind: ErrorType,
    /// What went wrong, naming the request path where there is one.
    pub message: String,
}

impl AwsError {
    /// An error of the given kind.
    pub fn new(kind: ErrorType, message: impl Into<String>) -> Self {
        AwsError {
            kind,
            message: message.into(),
        }
    }

    /// `InvalidParameterException` with the given message.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidParameterException, message)
    }

    /// `InvalidRequestException` with the given message.
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InvalidRequestException, message)
    }

    /// `ResourceNotFoundException` with the given message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorType::ResourceNotFoundException, message)
    }

    /// Connect's `InternalServiceException` wrapping a storage failure.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorType::InternalServiceException, message)
    }

    /// The JSON body AWS sends for this error: `{"__type": ..., "Message": ...}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "__type": self.kind.as_str(), "Message": self.message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_type_and_message() {
        let e = AwsError::not_found("instance 'x' does not exist");
        assert_eq!(
            e.to_string(),
            "ResourceNotFoundException: instance 'x' does not exist"
        );
    }
}
