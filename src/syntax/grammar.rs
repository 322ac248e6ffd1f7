//! The pest parser generated from `grammar/filter.pest`.
//!
//! Takes in the source text; gives out pest pairs (or a pest error), which
//! only `syntax::lower` and `syntax::expect` look at.

/// The parser for `grammar/filter.pest`; its `Rule`s carry the grammar docs.
#[derive(pest_derive::Parser)]
#[grammar = "../grammar/filter.pest"]
pub(crate) struct FilterParser;
