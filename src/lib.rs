//! rollcall: Amazon Connect `SearchUsers` and Amazon Rekognition face/user
//! matching, locally and offline.
//!
//! The Connect side is a pipeline: text ([`syntax`]) or AWS JSON
//! ([`criteria::wire`]) becomes one typed [`criteria::Filter`]; the
//! [`plan`] turns it into index lookups and residual checks; the
//! [`directory`] runs the plan over a tantivy index of users. The reference
//! evaluator [`criteria::eval`] answers the same searches by brute force and
//! is the oracle of the tests. The Rekognition side ([`faces`]) stands
//! beside it.
//!
//! ```
//! use rollcall::criteria::wire::Search;
//! use rollcall::directory::Instance;
//!
//! // A directory: two users as DescribeUser returns them, one per line.
//! let users = concat!(
//!     r#"{"Id": "u1", "Username": "Straße", "Tags": {"Team": "blue"}}"#, "\n",
//!     r#"{"Id": "u2", "Username": "john", "Tags": {"Team": "red"}}"#, "\n",
//! );
//! let instance = Instance::in_memory()?;
//! instance.import(users.as_bytes(), None)?;
//!
//! // A query in the text language; the same search as AWS JSON would be
//! // `criteria::wire::parse_request(json)?.lower()?`.
//! let filter = rollcall::syntax::parse(r#"username eq "STRASSE" and tag.Team eq blue"#)?;
//! println!("{}", rollcall::plan::compile(&filter).explain());
//! let page = instance.search(&Search::new(filter))?;
//! assert_eq!(page.approximate_total_count, 1);
//! assert_eq!(page.users[0].id.as_deref(), Some("u1"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod fsmode;
mod json;
mod storage;

pub use error::{AwsError, ErrorType};
pub mod criteria;
pub mod directory;
pub mod faces;
#[doc(hidden)]
pub mod fuzzing;
pub mod r#gen;
pub mod plan;
pub mod records;
#[cfg(feature = "serve")]
pub mod serve;
pub mod syntax;
