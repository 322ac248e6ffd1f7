//! rollcall: Amazon Connect `SearchUsers` and Amazon Rekognition face/user
//! matching, locally and offline.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;

pub use error::{AwsError, ErrorType};
pub mod faces;
