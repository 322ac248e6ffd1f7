//! The Rekognition operations served: one enum, its AWS and command-line
//! names, and the one parser that refuses every other name.

use std::fmt;
use std::str::FromStr;

macro_rules! operations {
    ($($(#[$doc:meta])* $op:ident = $aws:literal, $kebab:literal;)*) => {
        /// A Rekognition operation this engine serves.
        ///
        /// ```
        /// use rollcall::faces::Operation;
        /// let op: Operation = "search-users-by-image".parse().unwrap();
        /// assert_eq!(op, Operation::SearchUsersByImage);
        /// assert_eq!(op.aws_name(), "SearchUsersByImage");
        /// assert_eq!(op.cli_name(), "search-users-by-image");
        /// assert_eq!("SearchUsers".parse::<Operation>(), Ok(Operation::SearchUsers));
        /// assert!("Frobnicate".parse::<Operation>().is_err());
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Operation {
            $($(#[$doc])* $op,)*
        }

        impl Operation {
            /// Every operation served, in the service model's order.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];

            /// The name as AWS spells it (`SearchUsers`): the `X-Amz-Target`
            /// suffix and `rollcall rekognition`'s other spelling.
            pub fn aws_name(self) -> &'static str {
                match self {
                    $(Operation::$op => $aws,)*
                }
            }

            /// The kebab-case command-line name (`search-users`).
            pub fn cli_name(self) -> &'static str {
                match self {
                    $(Operation::$op => $kebab,)*
                }
            }
        }
    };
}

operations! {
    /// `CreateCollection`.
    CreateCollection = "CreateCollection", "create-collection";
    /// `DeleteCollection`.
    DeleteCollection = "DeleteCollection", "delete-collection";
    /// `DescribeCollection`.
    DescribeCollection = "DescribeCollection", "describe-collection";
    /// `ListCollections`.
    ListCollections = "ListCollections", "list-collections";
    /// `IndexFaces`.
    IndexFaces = "IndexFaces", "index-faces";
    /// `ListFaces`.
    ListFaces = "ListFaces", "list-faces";
    /// `DeleteFaces`.
    DeleteFaces = "DeleteFaces", "delete-faces";
    /// `SearchFaces`.
    SearchFaces = "SearchFaces", "search-faces";
    /// `SearchFacesByImage`.
    SearchFacesByImage = "SearchFacesByImage", "search-faces-by-image";
    /// `CreateUser`.
    CreateUser = "CreateUser", "create-user";
    /// `DeleteUser`.
    DeleteUser = "DeleteUser", "delete-user";
    /// `ListUsers`.
    ListUsers = "ListUsers", "list-users";
    /// `AssociateFaces`.
    AssociateFaces = "AssociateFaces", "associate-faces";
    /// `DisassociateFaces`.
    DisassociateFaces = "DisassociateFaces", "disassociate-faces";
    /// `SearchUsers`.
    SearchUsers = "SearchUsers", "search-users";
    /// `SearchUsersByImage`.
    SearchUsersByImage = "SearchUsersByImage", "search-users-by-image";
    /// `DetectFaces`.
    DetectFaces = "DetectFaces", "detect-faces";
    /// `CompareFaces`.
    CompareFaces = "CompareFaces", "compare-faces";
}

impl Operation {
    /// The operation named exactly as AWS spells it (`SearchUsers`), as an
    /// `X-Amz-Target` names it; `None` for any other name.
    pub fn from_aws_name(name: &str) -> Option<Operation> {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.aws_name() == name)
    }

    /// The AWS names of every operation, `, `-separated (for error messages).
    pub fn names() -> String {
        let names: Vec<&str> = Operation::ALL.iter().map(|op| op.aws_name()).collect();
        names.join(", ")
    }
}

/// A name that is no operation served here (the name given).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operation '{0}'; expected one of {names}", names = Operation::names())]
pub struct UnknownOperation(pub String);

impl FromStr for Operation {
    type Err = UnknownOperation;

    /// Either spelling: AWS's (`SearchUsers`) or kebab-case
    /// (`search-users`); each dash-separated part has its first letter
    /// raised, so `search-Users` and `searchUsers` name it too.
    fn from_str(name: &str) -> Result<Operation, UnknownOperation> {
        let pascal: String = name
            .split('-')
            .map(|part| {
                let mut c = part.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        Operation::from_aws_name(&pascal).ok_or_else(|| UnknownOperation(name.to_string()))
    }
}

impl fmt::Display for Operation {
    /// The AWS name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.aws_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &op in Operation::ALL {
            assert_eq!(op.aws_name().parse::<Operation>(), Ok(op));
            assert_eq!(op.cli_name().parse::<Operation>(), Ok(op));
            assert_eq!(Operation::from_aws_name(op.aws_name()), Some(op));
            assert_eq!(Operation::from_aws_name(op.cli_name()), None);
        }
        assert_eq!(Operation::ALL.len(), 18);
    }
}
