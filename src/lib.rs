//! rollcall: Amazon Connect `SearchUsers` and Amazon Rekognition face/user
//! matching, locally and offline.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;

pub use error::{AwsError, ErrorType};
pub mod criteria;
pub mod directory;
pub mod faces;
pub mod gen;
pub mod plan;
pub mod records;
pub mod serve;
pub mod syntax;
