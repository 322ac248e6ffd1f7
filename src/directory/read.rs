//! Read access to whole user records, for the Connect read operations the
//! server answers besides `SearchUsers` (`DescribeUser`, `ListUsers`,
//! `ListUserProficiencies`).
//!
//! Takes in a user id or a [`Search`]; gives out full [`User`] records (not
//! the `UserSearchSummary` shape that [`Instance::search`] returns).

use super::error::{storage, StorageError};
use super::Instance;
use crate::criteria::wire::Search;
use crate::records::User;
use crate::AwsError;

/// A page of whole user records, in the order of [`Instance::search`].
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPage {
    /// The users of this page.
    pub users: Vec<User>,
    /// The token of the next page, present exactly when more users match.
    pub next_token: Option<String>,
    /// The number of users matching the whole search.
    pub total: u64,
}

impl Instance {
    /// The user with this `Id`, if any.
    ///
    /// ```
    /// let inst = rollcall::directory::Instance::in_memory().unwrap();
    /// inst.import("{\"Id\":\"u1\",\"Username\":\"ann\"}\n".as_bytes(), None).unwrap();
    /// assert_eq!(inst.user("u1").unwrap().unwrap().username, "ann");
    /// assert!(inst.user("u2").unwrap().is_none());
    /// ```
    pub fn user(&self, id: &str) -> Result<Option<User>, AwsError> {
        let (searcher, live) = self.view()?;
        match live.delta.user(id) {
            Some(u) => Ok(u),
            None => self.indexed_user(&searcher, id),
        }
    }

    /// Like [`Instance::search`], but gives the whole records of the page.
    /// `search.max_results` is not capped here (ListUsers pages up to 1000).
    /// Built on [`Instance::search`] (then each user read by id), so it
    /// follows the engine's plans and paging exactly.
    pub fn search_records(&self, search: &Search) -> Result<RecordPage, AwsError> {
        let page = self.search(search)?;
        let mut users = Vec::with_capacity(page.users.len());
        for summary in &page.users {
            let id = summary
                .id
                .as_deref()
                .ok_or_else(|| storage(StorageError::Corrupt("search result without an Id")))?;
            // A user deleted between the two reads is simply left out.
            if let Some(user) = self.user(id)? {
                users.push(user);
            }
        }
        Ok(RecordPage {
            users,
            next_token: page.next_token,
            total: page.approximate_total_count,
        })
    }
}
