//! Read access to whole user records, for the Connect read operations the
//! server answers besides `SearchUsers` (`DescribeUser`, `ListUsers`,
//! `ListUserProficiencies`).
//!
//! Takes in a user id or a [`Search`]; gives out full [`User`] records (not
//! the `UserSearchSummary` shape that [`Instance::search`] returns).

use tantivy::Term;

use super::exec::{Ctx, PageCollector};
use super::{storage, Instance};
use crate::criteria::paging::{decode_token, encode_token, SortKey};
use crate::criteria::wire::Search;
use crate::plan::{self, sort_key_bytes, IndexField};
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
        let searcher = self.reader.searcher();
        if searcher.num_docs() == 0 {
            return Ok(None);
        }
        let term = Term::from_field_text(self.fields.get(IndexField::Id), id);
        match self.alive_docs(&searcher, &term).first() {
            Some(addr) => Ok(Some(self.load_user(&searcher, *addr)?)),
            None => Ok(None),
        }
    }

    /// Like [`Instance::search`], but gives the whole records of the page.
    /// `search.max_results` is not capped here (ListUsers pages up to 1000).
    pub fn search_records(&self, search: &Search) -> Result<RecordPage, AwsError> {
        let after = match &search.next_token {
            Some(t) => Some(decode_token(&search.filter, t)?),
            None => None,
        };
        let plan = plan::compile(&search.filter);
        let searcher = self.reader.searcher();
        let groups = self
            .groups
            .read()
            .map_err(|_| AwsError::internal("groups lock poisoned"))?;
        let ctx = Ctx {
            fields: &self.fields,
            searcher: &searcher,
            groups: &groups,
        };
        let query = ctx.query(&plan.root).map_err(storage)?;
        let collector = PageCollector {
            after: after.map(|k| sort_key_bytes(&k.folded, &k.id)),
            limit: search.max_results as usize,
        };
        let page = searcher.search(&*query, &collector).map_err(storage)?;
        let mut users = Vec::with_capacity(page.hits.len());
        for (_, addr) in &page.hits {
            users.push(self.load_user(&searcher, *addr)?);
        }
        let next_token = match users.last() {
            Some(u) if page.remaining > users.len() as u64 => Some(encode_token(
                &search.filter,
                &SortKey::new(&u.username, &u.id),
            )),
            _ => None,
        };
        Ok(RecordPage {
            users,
            next_token,
            total: page.total,
        })
    }
}
