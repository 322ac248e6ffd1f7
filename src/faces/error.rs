//! Why a faces call failed, as data: [`Error`] (what the request or the
//! collection's state rules out) and [`StorageError`] (what the disk
//! refused, with its `io::Error` as the source). Each kind is one AWS
//! error code; the one mapping is [`Error::error_type`], which
//! `From<Error> for AwsError` uses at the edge (the server, the CLI).

use std::io;
use std::path::{Path, PathBuf};

use crate::{AwsError, ErrorType};

/// A failed faces call. The message (`Display`) names the offending part
/// of the request, as AWS's `Message` does; [`Error::error_type`] is the
/// AWS `__type`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter breaks a rule of the model (`InvalidParameterException`):
    /// `{"CollectionId": "a b"}`, an unknown member `{"Extra": 1}`,
    /// `MaxResults: 5000`, a `FaceId` the collection does not hold.
    #[error("{0}")]
    InvalidParameter(String),
    /// The body is not JSON of the request's shape
    /// (`SerializationException`): `{"CollectionId": 7}`.
    #[error("{0}")]
    Serialization(String),
    /// No collection or user by that id (`ResourceNotFoundException`):
    /// `DescribeCollection` of a collection never created.
    #[error("{0}")]
    NotFound(String),
    /// `CreateCollection` of an id already taken
    /// (`ResourceAlreadyExistsException`).
    #[error("collection '{0}' already exists")]
    CollectionExists(String),
    /// The request conflicts with the collection's state
    /// (`ConflictException`): `CreateUser` of a `UserId` that exists.
    #[error("{0}")]
    Conflict(String),
    /// `Image` is not a float32 `.npy` file, base64 in `Bytes`
    /// (`InvalidImageFormatException`): `{"Bytes": "not base64!"}`, or an
    /// `S3Object`.
    #[error("{0}")]
    InvalidImage(String),
    /// `Image.Bytes` decodes to more than 5 MiB (`ImageTooLargeException`).
    #[error("{0}")]
    ImageTooLarge(String),
    /// A quota would be exceeded (`ServiceQuotaExceededException`): a 101st
    /// face associated to one user.
    #[error("{0}")]
    QuotaExceeded(String),
    /// A `ClientRequestToken` reused within 24 hours with other parameters
    /// (`IdempotentParameterMismatchException`).
    #[error("{0}")]
    TokenMismatch(String),
    /// A `NextToken` this engine did not issue for that list
    /// (`InvalidPaginationTokenException`): `"NextToken": "f2a.00000000"`.
    #[error("{0}")]
    BadNextToken(String),
    /// The disk failed or holds what this engine never wrote
    /// (`InternalServerError`): a corrupt `snapshot.bin`.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A response that would not serialise, or a remembered one that would
    /// not read back (`InternalServerError`); never expected.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// `InvalidParameter` with this message.
    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::InvalidParameter(message.into())
    }

    /// The AWS error code (`__type`) of this error: the one place that
    /// maps faces' errors to AWS's.
    ///
    /// ```
    /// use rollcall::{faces::Engine, ErrorType};
    /// let dir = tempfile::tempdir().unwrap();
    /// let e = Engine::open(dir.path()).unwrap();
    /// let err = e.call("DescribeCollection", r#"{"CollectionId": "nope"}"#).unwrap_err();
    /// assert_eq!(err.error_type(), ErrorType::ResourceNotFoundException);
    /// assert_eq!(err.to_string(), "collection 'nope' does not exist");
    /// ```
    pub fn error_type(&self) -> ErrorType {
        match self {
            Error::InvalidParameter(_) => ErrorType::InvalidParameterException,
            Error::Serialization(_) => ErrorType::SerializationException,
            Error::NotFound(_) => ErrorType::ResourceNotFoundException,
            Error::CollectionExists(_) => ErrorType::ResourceAlreadyExistsException,
            Error::Conflict(_) => ErrorType::ConflictException,
            Error::InvalidImage(_) => ErrorType::InvalidImageFormatException,
            Error::ImageTooLarge(_) => ErrorType::ImageTooLargeException,
            Error::QuotaExceeded(_) => ErrorType::ServiceQuotaExceededException,
            Error::TokenMismatch(_) => ErrorType::IdempotentParameterMismatchException,
            Error::BadNextToken(_) => ErrorType::InvalidPaginationTokenException,
            Error::Storage(_) | Error::Internal(_) => ErrorType::InternalServerError,
        }
    }
}

impl From<Error> for AwsError {
    fn from(e: Error) -> AwsError {
        AwsError::new(e.error_type(), e.to_string())
    }
}

/// What the disk refused: the step (`what`: "cannot read log", "corrupt
/// snapshot", ...), the file, and the `io::Error` as the source. Shows as
/// `corrupt snapshot 'DIR/snapshot.bin': checksum mismatch`.
#[derive(Debug, thiserror::Error)]
#[error("{what} '{}': {source}", path.display())]
pub struct StorageError {
    what: &'static str,
    path: PathBuf,
    #[source]
    source: io::Error,
}

impl StorageError {
    /// A failure of step `what` on `path`.
    pub(crate) fn new(what: &'static str, path: &Path, source: io::Error) -> StorageError {
        StorageError {
            what,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The step that failed, such as `corrupt snapshot` or `cannot read log`.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The file or directory it failed on.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `Error::Storage` of step `what` on `path`.
pub(crate) fn storage_error(what: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Storage(StorageError::new(what, path, source))
}
