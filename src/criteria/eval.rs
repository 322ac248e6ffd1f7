//! The reference evaluator: plain, obviously correct Rust that answers a
//! [`Search`] over an in-memory [`Directory`] by testing every user.
//!
//! It is the oracle the index engine, the text language and the AWS codec are
//! checked against, and a library user can run it on small data. Each rule of
//! docs/semantics.md §2 is one `match` arm below.

use super::paging::{decode_token, encode_token, SortKey};
use super::wire::{Search, SearchUsersResponse, UserSearchSummary};
use super::{
    fold, Filter, HierarchyCondition, HierarchyMatch, ProficiencyCondition, ProficiencyField,
    StringCondition, StringField, StringOp, TagCondition,
};
use crate::records::{Directory, Groups, Proficiency, User};
use crate::AwsError;

/// True when `user` satisfies `filter`.
///
/// ```
/// use rollcall::criteria::eval::matches;
/// use rollcall::records::{Groups, User};
/// let user: User = serde_json::from_value(serde_json::json!({
///     "Id": "u1", "Username": "Straße", "Tags": {"Team": "blue"}
/// })).unwrap();
/// let q = rollcall::syntax::parse(r#"username eq "STRASSE" and tag.Team"#).unwrap();
/// assert!(matches(&q, &user, &Groups::default()));
/// ```
pub fn matches(filter: &Filter, user: &User, groups: &Groups) -> bool {
    match filter {
        Filter::And(children) => children.iter().all(|c| matches(c, user, groups)),
        Filter::Or(children) => children.iter().any(|c| matches(c, user, groups)),
        Filter::String(s) => string_matches(s, user),
        Filter::Hierarchy(h) => hierarchy_matches(h, user, groups),
        Filter::Tag(t) => tag_matches(t, user),
        Filter::Proficiency(items) => user
            .proficiencies
            .iter()
            .flatten()
            .any(|p| items.iter().all(|item| proficiency_matches(item, p))),
    }
}

/// The values of a user field (several for `securityProfileId`, none when absent).
pub fn field_values(user: &User, field: StringField) -> Vec<&str> {
    match field {
        StringField::Username => vec![user.username.as_str()],
        StringField::FirstName => user.first_name().into_iter().collect(),
        StringField::LastName => user.last_name().into_iter().collect(),
        StringField::RoutingProfileId => user.routing_profile_id.as_deref().into_iter().collect(),
        StringField::SecurityProfileId => user
            .security_profile_ids
            .iter()
            .flatten()
            .map(String::as_str)
            .collect(),
        StringField::ResourceId => vec![user.id.as_str()],
    }
}

fn string_matches(s: &StringCondition, user: &User) -> bool {
    let mut values = field_values(user, s.field());
    if s.field() == StringField::ResourceId && s.op() == StringOp::Exact {
        values.extend(user.arn.as_deref());
    }
    if s.field().is_caseless() {
        let needle = fold(s.value());
        values.iter().any(|v| s.op().test(&fold(v), &needle))
    } else {
        values.iter().any(|v| s.op().test(v, s.value()))
    }
}

fn hierarchy_matches(h: &HierarchyCondition, user: &User, groups: &Groups) -> bool {
    let Some(group) = user.hierarchy_group_id.as_deref() else {
        return false;
    };
    match h.mode() {
        HierarchyMatch::Exact => group == h.group(),
        HierarchyMatch::WithChildGroups => groups.lineage(group).iter().any(|g| g == h.group()),
    }
}

fn tag_matches(t: &TagCondition, user: &User) -> bool {
    match user.tags.as_ref().and_then(|tags| tags.get(t.key())) {
        None => false,
        Some(v) => t.value().is_none_or(|want| want == v),
    }
}

/// True when one proficiency passes one item of a `proficiency[...]` list
/// (the index engine tests its proficiency tuples with this).
pub fn proficiency_matches(item: &ProficiencyCondition, p: &Proficiency) -> bool {
    match item {
        ProficiencyCondition::String(s) => {
            let (field, op, value) = (&s.field(), &s.op(), s.value());
            let have = match field {
                ProficiencyField::Name => &p.attribute_name,
                ProficiencyField::Value => &p.attribute_value,
            };
            op.test(have, value)
        }
        ProficiencyCondition::Level(t) => t.test(p.level),
    }
}

/// Answers a search by scanning every user: the matches in (folded
/// username, id) order, one page of them, the exact total and the token
/// for the next page.
///
/// ```
/// use rollcall::criteria::{eval::search, wire::Search};
/// use rollcall::records::Directory;
/// let users = "{\"Id\":\"2\",\"Username\":\"bob\"}\n{\"Id\":\"1\",\"Username\":\"Ann\"}\n";
/// let dir = Directory::load(users.as_bytes(), None::<&[u8]>).unwrap();
/// let mut s = Search::new(rollcall::syntax::parse("*").unwrap());
/// s.max_results = 1;
/// let page = search(&dir, &s).unwrap();
/// assert_eq!(page.users[0].username.as_deref(), Some("Ann"));
/// assert_eq!(page.approximate_total_count, 2);
/// assert!(page.next_token.is_some());
/// ```
pub fn search(dir: &Directory, search: &Search) -> Result<SearchUsersResponse, AwsError> {
    let after = match &search.next_token {
        Some(t) => Some(decode_token(&search.filter, t)?),
        None => None,
    };
    let mut hits: Vec<(SortKey, &User)> = dir
        .users()
        .filter(|u| matches(&search.filter, u, &dir.groups))
        .map(|u| (SortKey::new(&u.username, &u.id), u))
        .collect();
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    let total = hits.len() as u64;
    let rest: Vec<&(SortKey, &User)> = hits
        .iter()
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let page: Vec<&(SortKey, &User)> = rest
        .iter()
        .take(search.max_results as usize)
        .copied()
        .collect();
    let next_token = match page.last() {
        Some((last, _)) if rest.len() > page.len() => Some(encode_token(&search.filter, last)),
        _ => None,
    };
    Ok(SearchUsersResponse {
        users: page
            .iter()
            .map(|(_, u)| UserSearchSummary::from(*u))
            .collect(),
        next_token,
        approximate_total_count: total,
    })
}
