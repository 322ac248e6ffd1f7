//! Connect (`rest-json`) bindings: each operation of the Connect model on its
//! `requestUri` and method, with path, query-string and body members bound
//! as the model says, answered from the directory engine.
//!
//! Takes in the method, the decoded path segments, the query string and the
//! body; gives out the JSON response body or an [`ApiError`]. Instances are
//! opened once and reopened when their commit (`meta.json`) changes on disk,
//! so an import run by another process becomes visible without a restart.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::sigv4::{days_from_civil, percent_decode};
use crate::criteria::paging::{seal, unseal};
use crate::criteria::wire::{parse_request, Search};
use crate::criteria::Filter;
use crate::directory::{Engine, Instance};
use crate::records::{HierarchyGroup, User};
use crate::AwsError;

/// A Connect operation of the model, as routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /search-users`.
    SearchUsers,
    /// `GET /users/{InstanceId}/{UserId}`.
    DescribeUser(String, String),
    /// `GET /users/{InstanceId}/{UserId}/proficiencies`.
    ListUserProficiencies(String, String),
    /// `GET /users-summary/{InstanceId}`.
    ListUsers(String),
    /// `GET /user-hierarchy-groups/{InstanceId}/{HierarchyGroupId}`.
    DescribeUserHierarchyGroup(String, String),
    /// `GET /user-hierarchy-groups-summary/{InstanceId}`.
    ListUserHierarchyGroups(String),
    /// `GET /user-hierarchy-structure/{InstanceId}`.
    DescribeUserHierarchyStructure(String),
    /// A write operation (or `DescribeInstance`, `ListInstances`,
    /// `ListTagsForResource`, `SearchUserHierarchyGroups`) answered by
    /// [`Engine::call`], with the members its path binds: `PUT /users/{InstanceId}` is `CreateUser`
    /// with `InstanceId`.
    Api {
        /// The operation, as AWS spells it.
        operation: &'static str,
        /// The path members, by their names in the input.
        bound: Vec<(&'static str, String)>,
    },
}

/// An [`Route::Api`] route.
fn api(operation: &'static str, bound: &[(&'static str, &str)]) -> Route {
    Route::Api {
        operation,
        bound: bound.iter().map(|(k, v)| (*k, v.to_string())).collect(),
    }
}

/// The path members of the operations on one user.
fn user<'a>(i: &'a str, u: &'a str) -> [(&'static str, &'a str); 2] {
    [("InstanceId", i), ("UserId", u)]
}

/// The path members of the operations on one hierarchy group.
fn group<'a>(i: &'a str, g: &'a str) -> [(&'static str, &'a str); 2] {
    [("InstanceId", i), ("HierarchyGroupId", g)]
}

/// The operations on `POST /users/{InstanceId}/{UserId}/<action>`.
const USER_ACTIONS: &[(&str, &str)] = &[
    ("identity-info", "UpdateUserIdentityInfo"),
    ("phone-config", "UpdateUserPhoneConfig"),
    ("routing-profile", "UpdateUserRoutingProfile"),
    ("security-profiles", "UpdateUserSecurityProfiles"),
    ("hierarchy", "UpdateUserHierarchy"),
    ("associate-proficiencies", "AssociateUserProficiencies"),
    (
        "disassociate-proficiencies",
        "DisassociateUserProficiencies",
    ),
];

impl Route {
    /// The operation name, as AWS spells it.
    pub fn operation(&self) -> &'static str {
        match self {
            Route::SearchUsers => "SearchUsers",
            Route::DescribeUser(..) => "DescribeUser",
            Route::ListUserProficiencies(..) => "ListUserProficiencies",
            Route::ListUsers(..) => "ListUsers",
            Route::DescribeUserHierarchyGroup(..) => "DescribeUserHierarchyGroup",
            Route::ListUserHierarchyGroups(..) => "ListUserHierarchyGroups",
            Route::DescribeUserHierarchyStructure(..) => "DescribeUserHierarchyStructure",
            Route::Api { operation, .. } => operation,
        }
    }

    /// Matches a raw (percent-encoded) path and a method. An unknown path is
    /// a 404 `UnknownOperationException`; a known path with another method
    /// a 405.
    pub fn resolve(method: &str, raw_path: &str) -> Result<Route, ApiError> {
        let segments: Vec<String> = raw_path
            .trim_start_matches('/')
            .split('/')
            .map(|s| String::from_utf8_lossy(&percent_decode(s, false)).into_owned())
            .collect();
        let seg: Vec<&str> = segments.iter().map(String::as_str).collect();
        let ok = |s: &&str| !s.is_empty();
        let mut served: Vec<(&str, Route)> = match seg[..] {
            ["search-users"] => vec![("POST", Route::SearchUsers)],
            ["search-user-hierarchy-groups"] => {
                vec![("POST", api("SearchUserHierarchyGroups", &[]))]
            }
            ["users", i] if ok(&i) => vec![("PUT", api("CreateUser", &[("InstanceId", i)]))],
            ["users", i, u] if ok(&i) && ok(&u) => vec![
                ("GET", Route::DescribeUser(i.into(), u.into())),
                ("DELETE", api("DeleteUser", &user(i, u))),
            ],
            ["users", i, u, "proficiencies"] if ok(&i) && ok(&u) => vec![
                ("GET", Route::ListUserProficiencies(i.into(), u.into())),
                ("POST", api("UpdateUserProficiencies", &user(i, u))),
            ],
            ["users", i, u, action] if ok(&i) && ok(&u) => {
                match USER_ACTIONS
                    .iter()
                    .find(|(a, _)| *a == action)
                    .map(|(_, op)| *op)
                {
                    Some(op) => vec![("POST", api(op, &user(i, u)))],
                    None => Vec::new(),
                }
            }
            ["users-summary", i] if ok(&i) => vec![("GET", Route::ListUsers(i.into()))],
            ["user-hierarchy-groups", i] if ok(&i) => {
                vec![("PUT", api("CreateUserHierarchyGroup", &[("InstanceId", i)]))]
            }
            ["user-hierarchy-groups", i, g] if ok(&i) && ok(&g) => vec![
                ("GET", Route::DescribeUserHierarchyGroup(i.into(), g.into())),
                ("DELETE", api("DeleteUserHierarchyGroup", &group(i, g))),
            ],
            ["user-hierarchy-groups", i, g, "name"] if ok(&i) && ok(&g) => {
                vec![("POST", api("UpdateUserHierarchyGroupName", &group(i, g)))]
            }
            ["user-hierarchy-groups-summary", i] if ok(&i) => {
                vec![("GET", Route::ListUserHierarchyGroups(i.into()))]
            }
            ["user-hierarchy-structure", i] if ok(&i) => vec![
                ("GET", Route::DescribeUserHierarchyStructure(i.into())),
                (
                    "POST",
                    api("UpdateUserHierarchyStructure", &[("InstanceId", i)]),
                ),
            ],
            // An ARN holds `/`: percent-encoded by the SDKs, raw from others.
            ["tags", ref rest @ ..] if rest.iter().all(ok) && !rest.is_empty() => {
                let arn = rest.join("/");
                let bound = [("resourceArn", arn.as_str())];
                vec![
                    ("GET", api("ListTagsForResource", &bound)),
                    ("POST", api("TagResource", &bound)),
                    ("DELETE", api("UntagResource", &bound)),
                ]
            }
            ["instance"] => vec![
                ("PUT", api("CreateInstance", &[])),
                ("GET", api("ListInstances", &[])),
            ],
            ["instance", i] if ok(&i) => vec![
                ("GET", api("DescribeInstance", &[("InstanceId", i)])),
                ("DELETE", api("DeleteInstance", &[("InstanceId", i)])),
            ],
            _ => Vec::new(),
        };
        if let Some(at) = served.iter().position(|(m, _)| *m == method) {
            return Ok(served.swap_remove(at).1);
        }
        let (want, route) = match served.into_iter().next() {
            Some(first) => first,
            None => {
                return Err(ApiError::with_status(
                    "UnknownOperationException",
                    404,
                    format!("no operation at {method} {}", printable(raw_path)),
                ))
            }
        };
        Err(ApiError::with_status(
            "UnknownOperationException",
            405,
            format!(
                "{} is served on {want} {}, not {method}",
                route.operation(),
                printable(raw_path)
            ),
        ))
    }
}

/// A path cut to a readable length for messages.
fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(200).filter(|c| !c.is_control()).collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out
}

/// The Connect side of the server: the directory engine, whose instances
/// are opened once ([`Engine::shared`]) and catch up by themselves with
/// writes and imports of other processes.
#[derive(Debug)]
pub struct ConnectState {
    engine: Engine,
}

impl ConnectState {
    /// The Connect side over a directory engine (`DIR/connect/`).
    pub fn new(engine: Engine) -> ConnectState {
        ConnectState { engine }
    }

    /// The instance as it is now; `ResourceNotFoundException` when it
    /// does not exist.
    pub fn instance(&self, id: &str) -> Result<Arc<Instance>, AwsError> {
        self.engine.shared(id)
    }

    /// Answers one routed operation.
    pub fn call(&self, route: &Route, query: &str, body: &[u8]) -> Result<Value, ApiError> {
        match route {
            Route::SearchUsers => self.search_users(body),
            Route::DescribeUser(i, u) => {
                let user = self.user(i, u)?;
                Ok(json!({ "User": describe_user(&user) }))
            }
            Route::ListUserProficiencies(i, u) => {
                let q = Query::parse(query, 100)?;
                let user = self.user(i, u)?;
                let all = user.proficiencies.clone().unwrap_or_default();
                let context = token_context(route);
                let start = q.offset_token(&context)?;
                let page: Vec<Value> = all
                    .iter()
                    .skip(start)
                    .take(q.max)
                    .map(|p| json!({"AttributeName": p.attribute_name, "AttributeValue": p.attribute_value, "Level": p.level}))
                    .collect();
                let mut out = Map::new();
                out.insert("UserProficiencyList".into(), Value::Array(page));
                if start + q.max < all.len() {
                    out.insert(
                        "NextToken".into(),
                        json!(offset_token(&context, start + q.max)),
                    );
                }
                copy_time(&mut out, user.last_modified_time.as_ref());
                if let Some(r) = &user.last_modified_region {
                    out.insert("LastModifiedRegion".into(), json!(r));
                }
                Ok(Value::Object(out))
            }
            Route::ListUsers(i) => {
                let q = Query::parse(query, 1000)?;
                let inst = self.instance(i)?;
                let mut search = Search::new(Filter::all());
                search.max_results = q.max as u32;
                search.next_token = q.next_token.clone();
                let page = inst.search_records(&search).map_err(|e| {
                    if e.kind == crate::ErrorType::InvalidParameterException {
                        ApiError::new(e.kind.as_str(), format!("nextToken: {}", e.message))
                    } else {
                        e.into()
                    }
                })?;
                let list: Vec<Value> = page.users.iter().map(user_summary).collect();
                let mut out = Map::new();
                out.insert("UserSummaryList".into(), Value::Array(list));
                if let Some(t) = page.next_token {
                    out.insert("NextToken".into(), json!(t));
                }
                Ok(Value::Object(out))
            }
            Route::DescribeUserHierarchyGroup(i, g) => {
                let inst = self.instance(i)?;
                let groups = inst.groups();
                let group = groups.get(g).ok_or_else(|| {
                    AwsError::not_found(format!(
                        "HierarchyGroupId: group '{g}' does not exist in instance '{i}'"
                    ))
                })?;
                Ok(json!({ "HierarchyGroup": wire_timestamps(to_value(group)?) }))
            }
            Route::ListUserHierarchyGroups(i) => {
                let q = Query::parse(query, 1000)?;
                let inst = self.instance(i)?;
                let groups = inst.groups();
                let mut all: Vec<&HierarchyGroup> = groups.iter().collect();
                all.sort_by(|a, b| a.id.cmp(&b.id));
                let context = token_context(route);
                let after = q.key_token(&context)?;
                let rest: Vec<&HierarchyGroup> = all
                    .into_iter()
                    .filter(|g| after.as_deref().is_none_or(|a| g.id.as_str() > a))
                    .collect();
                let page: Vec<Value> = rest.iter().take(q.max).map(|g| group_summary(g)).collect();
                let mut out = Map::new();
                out.insert("UserHierarchyGroupSummaryList".into(), Value::Array(page));
                if rest.len() > q.max
                    && let Some(last) = rest.get(q.max - 1)
                {
                    out.insert("NextToken".into(), json!(key_token(&context, &last.id)));
                }
                Ok(Value::Object(out))
            }
            Route::Api { operation, bound } => self.api(operation, bound, query, body),
            Route::DescribeUserHierarchyStructure(i) => {
                let inst = self.instance(i)?;
                Ok(
                    json!({ "HierarchyStructure": structure(&inst.groups().iter().collect::<Vec<_>>(), &inst.info()?.level_names) }),
                )
            }
        }
    }

    fn search_users(&self, body: &[u8]) -> Result<Value, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::serialization(format!("request body is not UTF-8: {e}")))?;
        let text = if text.trim().is_empty() { "{}" } else { text };
        let request = parse_request(text)?;
        let search = request.lower()?;
        let id = search
            .instance_id
            .clone()
            .ok_or_else(|| AwsError::invalid_parameter("InstanceId: is required"))?;
        let page = self.instance(&id)?.search(&search)?;
        serde_json::to_value(&page)
            .map_err(|e| AwsError::internal(format!("cannot encode the response: {e}")).into())
    }

    /// An [`Route::Api`] operation: the body's members, the path's and
    /// the query string's (`tagKeys`, `maxResults`, `nextToken`,
    /// `clientToken`, as the model binds them) make its input.
    fn api(
        &self,
        operation: &'static str,
        bound: &[(&'static str, String)],
        query: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::serialization(format!("request body is not UTF-8: {e}")))?;
        let mut input = match text.trim() {
            "" => Map::new(),
            t => match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(ApiError::serialization(
                        "the request body must be a JSON object",
                    ))
                }
                Err(e) => return Err(ApiError::serialization(format!("request body: {e}"))),
            },
        };
        for (k, v) in bound {
            input.insert((*k).to_string(), json!(v));
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = String::from_utf8_lossy(&percent_decode(v, true)).into_owned();
            match (operation, k) {
                ("UntagResource", "tagKeys") => {
                    let keys = input.entry("tagKeys").or_insert_with(|| json!([]));
                    if let Value::Array(a) = keys {
                        a.push(json!(v));
                    }
                }
                ("ListInstances", "maxResults") => {
                    let n: u32 = v.parse().map_err(|_| {
                        AwsError::invalid_parameter(format!(
                            "maxResults: must be an integer 1..10, got '{}'",
                            printable(&v)
                        ))
                    })?;
                    input.insert("MaxResults".into(), json!(n));
                }
                ("ListInstances", "nextToken") => {
                    input.insert("NextToken".into(), json!(v));
                }
                ("DeleteInstance", "clientToken") => {
                    input.insert("ClientToken".into(), json!(v));
                }
                _ => {}
            }
        }
        let input = Value::Object(input).to_string();
        match self.engine.call(operation, &input) {
            Some(out) => Ok(wire_timestamps(out?)),
            None => Err(ApiError::with_status(
                "UnknownOperationException",
                404,
                format!("{operation} is not served"),
            )),
        }
    }

    fn user(&self, instance: &str, id: &str) -> Result<User, ApiError> {
        self.instance(instance)?.user(id)?.ok_or_else(|| {
            AwsError::not_found(format!(
                "UserId: user '{id}' does not exist in instance '{instance}'"
            ))
            .into()
        })
    }
}

/// The query-string members of the list operations.
struct Query {
    max: usize,
    next_token: Option<String>,
}

impl Query {
    fn parse(query: &str, limit: usize) -> Result<Query, ApiError> {
        let mut q = Query {
            max: 100.min(limit),
            next_token: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = String::from_utf8_lossy(&percent_decode(v, true)).into_owned();
            match k {
                "maxResults" => {
                    let n: usize = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=limit).contains(n))
                        .ok_or_else(|| {
                            AwsError::invalid_parameter(format!(
                                "maxResults: must be an integer 1..{limit}, got '{}'",
                                printable(&v)
                            ))
                        })?;
                    q.max = n;
                }
                "nextToken" => q.next_token = Some(v),
                _ => {}
            }
        }
        Ok(q)
    }

    /// The offset in a `ListUserProficiencies` token sealed for `context`.
    fn offset_token(&self, context: &[u8]) -> Result<usize, ApiError> {
        match &self.next_token {
            None => Ok(0),
            Some(t) => unseal(context, t)
                .and_then(|p| <[u8; 8]>::try_from(p.as_slice()).ok())
                .and_then(|b| usize::try_from(u64::from_le_bytes(b)).ok())
                .ok_or_else(|| bad_token(t)),
        }
    }

    /// The last key of a `ListUserHierarchyGroups` token sealed for
    /// `context`.
    fn key_token(&self, context: &[u8]) -> Result<Option<String>, ApiError> {
        match &self.next_token {
            None => Ok(None),
            Some(t) => unseal(context, t)
                .and_then(|p| String::from_utf8(p).ok())
                .map(Some)
                .ok_or_else(|| bad_token(t)),
        }
    }
}

fn bad_token(t: &str) -> ApiError {
    AwsError::invalid_parameter(format!(
        "nextToken: '{}' is not a token this operation issued",
        printable(t)
    ))
    .into()
}

/// What a list operation's `nextToken` is bound to: the operation and its
/// path members (instance, and user for proficiencies), each
/// length-prefixed so that no two routes share a context. A token is only
/// taken back by the same operation on the same resources.
fn token_context(route: &Route) -> Vec<u8> {
    let parts: Vec<&str> = match route {
        Route::SearchUsers => vec![],
        Route::DescribeUser(i, u)
        | Route::ListUserProficiencies(i, u)
        | Route::DescribeUserHierarchyGroup(i, u) => vec![i.as_str(), u.as_str()],
        Route::ListUsers(i)
        | Route::ListUserHierarchyGroups(i)
        | Route::DescribeUserHierarchyStructure(i) => vec![i.as_str()],
        Route::Api { bound, .. } => bound.iter().map(|(_, v)| v.as_str()).collect(),
    };
    // A leading NUL: no canonical SearchUsers query text starts with one.
    let mut out = b"\0rollcall list token\0".to_vec();
    for part in std::iter::once(route.operation()).chain(parts) {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// A token for the page that starts at offset `n`.
fn offset_token(context: &[u8], n: usize) -> String {
    seal(context, &(n as u64).to_le_bytes())
}

/// A token for the page after `key`.
fn key_token(context: &[u8], key: &str) -> String {
    seal(context, key.as_bytes())
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v)
        .map_err(|e| AwsError::internal(format!("cannot encode the response: {e}")).into())
}

/// Seconds since the epoch of an ISO 8601 timestamp
/// (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.250+02:00`).
pub fn iso_to_epoch(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', ' '])?;
    let mut d = date.split('-');
    let (y, m, day): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(p) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(p);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off
            .get(1..)?
            .split_once(':')
            .unwrap_or((off.get(1..3)?, off.get(3..).unwrap_or("0")));
        (
            c,
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().unwrap_or(0) * 60),
        )
    } else {
        (time, 0)
    };
    let mut t = clock.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let sec: f64 = t.next().unwrap_or("0").parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || mi > 59 {
        return None;
    }
    Some((days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 - offset) as f64 + sec)
}

/// A stored timestamp as rest-json sends it: epoch seconds (a number).
fn epoch_value(v: &Value) -> Option<Value> {
    match v {
        Value::Number(_) => Some(v.clone()),
        Value::String(s) => iso_to_epoch(s).map(|x| {
            if x.fract() == 0.0 {
                json!(x as i64)
            } else {
                json!(x)
            }
        }),
        _ => None,
    }
}

fn copy_time(out: &mut Map<String, Value>, t: Option<&Value>) {
    if let Some(v) = t.and_then(epoch_value) {
        out.insert("LastModifiedTime".into(), v);
    }
}

/// Rewrites every `LastModifiedTime` in a value to epoch seconds (not
/// inside a `Tags` map, whose keys are the caller's).
fn wire_timestamps(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if let Some(t) = map.get("LastModifiedTime") {
                    match epoch_value(t) {
                        Some(e) => {
                            map.insert("LastModifiedTime".into(), e);
                        }
                        None => {
                            map.remove("LastModifiedTime");
                        }
                    }
                }
                map.iter_mut()
                    .filter(|(k, _)| k.as_str() != "Tags" && k.as_str() != "tags")
                    .for_each(|(_, v)| walk(v));
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// The `User` of `DescribeUser`: the stored record without the
/// `Proficiencies` imported beside it.
fn describe_user(user: &User) -> Value {
    let mut u = user.clone();
    u.proficiencies = None;
    wire_timestamps(serde_json::to_value(&u).unwrap_or(Value::Null))
}

fn user_summary(user: &User) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(user.id));
    if let Some(a) = &user.arn {
        out.insert("Arn".into(), json!(a));
    }
    out.insert("Username".into(), json!(user.username));
    copy_time(&mut out, user.last_modified_time.as_ref());
    if let Some(r) = &user.last_modified_region {
        out.insert("LastModifiedRegion".into(), json!(r));
    }
    Value::Object(out)
}

fn group_summary(g: &HierarchyGroup) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(g.id));
    if let Some(a) = &g.arn {
        out.insert("Arn".into(), json!(a));
    }
    if let Some(n) = &g.name {
        out.insert("Name".into(), json!(n));
    }
    copy_time(&mut out, g.last_modified_time.as_ref());
    if let Some(r) = &g.last_modified_region {
        out.insert("LastModifiedRegion".into(), json!(r));
    }
    Value::Object(out)
}

/// The hierarchy structure as the groups show it: level N is named by the
/// `LevelId` of the groups N levels deep (the data holds no level names, so
/// the level's `Name` is its id).
fn structure(groups: &[&HierarchyGroup], level_names: &[Option<String>]) -> Value {
    const NAMES: [&str; 5] = [
        "LevelOne",
        "LevelTwo",
        "LevelThree",
        "LevelFour",
        "LevelFive",
    ];
    let mut levels: [Option<String>; 5] = Default::default();
    let mut sorted = groups.to_vec();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for g in sorted {
        let depth = g
            .hierarchy_path
            .as_ref()
            .map_or(1, |p| p.levels().count().max(1));
        if let (Some(slot), Some(level)) = (levels.get_mut(depth - 1), &g.level_id)
            && slot.is_none()
        {
            *slot = Some(level.clone());
        }
    }
    let mut out = Map::new();
    for (i, (name, level)) in NAMES.iter().zip(levels).enumerate() {
        // A level named by `UpdateUserHierarchyStructure` shows its name.
        let named = level_names.get(i).cloned().flatten();
        let id = level.or_else(|| named.as_ref().map(|_| format!("level-{}", i + 1)));
        if let Some(id) = id {
            let shown = named.unwrap_or_else(|| id.clone());
            out.insert((*name).into(), json!({ "Id": id, "Name": shown }));
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_percent_decode_and_answer_404_or_405() {
        assert_eq!(
            Route::resolve("GET", "/users/inst%2D1/u%201").unwrap(),
            Route::DescribeUser("inst-1".into(), "u 1".into())
        );
        assert_eq!(
            Route::resolve("GET", "/nope").unwrap_err().status,
            Some(404)
        );
        assert_eq!(
            Route::resolve("GET", "/search-users").unwrap_err().status,
            Some(405)
        );
    }

    #[test]
    fn iso_timestamps_to_epoch_seconds() {
        assert_eq!(iso_to_epoch("1970-01-02T00:00:00Z"), Some(86400.0));
        assert_eq!(
            iso_to_epoch("2024-05-01T12:00:00.5+02:00"),
            Some(1714557600.5)
        );
        assert_eq!(iso_to_epoch("yesterday"), None);
    }

    #[test]
    fn routes_bind_path_members() {
        assert_eq!(
            Route::resolve("GET", "/users/i/u/proficiencies").unwrap(),
            Route::ListUserProficiencies("i".into(), "u".into())
        );
        assert_eq!(
            Route::resolve("GET", "/user-hierarchy-structure/i").unwrap(),
            Route::DescribeUserHierarchyStructure("i".into())
        );
        assert_eq!(
            Route::resolve("GET", "/users//u").unwrap_err().status,
            Some(404)
        );
        assert_eq!(Route::resolve("GET", "/").unwrap_err().status, Some(404));
        assert_eq!(
            Route::resolve("PATCH", "/users/i/u").unwrap_err().status,
            Some(405)
        );
        // The write operations, with their path members; an ARN in the
        // tags path is one percent-encoded segment or several raw ones.
        let api = |op: &'static str, bound: &[(&'static str, &str)]| Route::Api {
            operation: op,
            bound: bound.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        };
        let cases = [
            (
                "DELETE",
                "/users/i/u",
                api("DeleteUser", &[("InstanceId", "i"), ("UserId", "u")]),
            ),
            ("PUT", "/users/i", api("CreateUser", &[("InstanceId", "i")])),
            (
                "POST",
                "/users/i/u/proficiencies",
                api(
                    "UpdateUserProficiencies",
                    &[("InstanceId", "i"), ("UserId", "u")],
                ),
            ),
            (
                "POST",
                "/users/i/u/hierarchy",
                api(
                    "UpdateUserHierarchy",
                    &[("InstanceId", "i"), ("UserId", "u")],
                ),
            ),
            (
                "POST",
                "/user-hierarchy-groups/i/g/name",
                api(
                    "UpdateUserHierarchyGroupName",
                    &[("InstanceId", "i"), ("HierarchyGroupId", "g")],
                ),
            ),
            (
                "GET",
                "/tags/arn%3Aaws%3Aconnect%3Ax%3A1%3Ainstance%2Fi",
                api(
                    "ListTagsForResource",
                    &[("resourceArn", "arn:aws:connect:x:1:instance/i")],
                ),
            ),
            (
                "DELETE",
                "/tags/arn:aws:connect:x:1:instance/i/agent/u",
                api(
                    "UntagResource",
                    &[("resourceArn", "arn:aws:connect:x:1:instance/i/agent/u")],
                ),
            ),
            ("PUT", "/instance", api("CreateInstance", &[])),
            (
                "DELETE",
                "/instance/i",
                api("DeleteInstance", &[("InstanceId", "i")]),
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(
                Route::resolve(method, path).unwrap(),
                want,
                "{method} {path}"
            );
        }
        assert_eq!(
            Route::resolve("POST", "/users/i/u/nonsense")
                .unwrap_err()
                .status,
            Some(404)
        );
    }

    #[test]
    fn list_tokens_round_trip_and_reject_garbage() {
        let groups = token_context(&Route::ListUserHierarchyGroups("i".into()));
        let q = Query::parse(&format!("nextToken={}", key_token(&groups, "g-é")), 10).unwrap();
        assert_eq!(q.key_token(&groups).unwrap().as_deref(), Some("g-é"));
        let bad = Query::parse("nextToken=zzz", 10).unwrap();
        assert!(bad.key_token(&groups).is_err());
        assert!(bad.offset_token(&groups).is_err());
        assert!(Query::parse("maxResults=0", 10).is_err());
        assert!(Query::parse("maxResults=11", 10).is_err());
        assert!(Query::parse("maxResults=x", 10).is_err());
        assert_eq!(Query::parse("maxResults=10", 10).unwrap().max, 10);
    }

    /// The tokens of the old format (`p.N`, `g.HEX`), which anyone could
    /// make up, are not tokens the server issued.
    #[test]
    fn made_up_list_tokens_are_rejected() {
        let prof = token_context(&Route::ListUserProficiencies("i".into(), "u".into()));
        let groups = token_context(&Route::ListUserHierarchyGroups("i".into()));
        for t in [
            "p.1",
            "p.18446744073709551615",
            "p.0",
            "",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let q = Query::parse(&format!("nextToken={t}"), 100).unwrap();
            let e = q.offset_token(&prof).unwrap_err();
            assert_eq!(e.code, "InvalidParameterException", "{t}");
            assert!(e.message.contains("nextToken"), "{}", e.message);
        }
        for t in ["g.41", "g.", "g.zz"] {
            let q = Query::parse(&format!("nextToken={t}"), 100).unwrap();
            let e = q.key_token(&groups).unwrap_err();
            assert_eq!(e.code, "InvalidParameterException", "{t}");
            assert!(e.message.contains("nextToken"), "{}", e.message);
        }
    }

    #[test]
    fn list_tokens_are_bound_to_operation_instance_and_user() {
        let ctx = |r: Route| token_context(&r);
        let prof = ctx(Route::ListUserProficiencies("i".into(), "u".into()));
        let t = offset_token(&prof, 3);
        let q = Query::parse(&format!("nextToken={t}"), 100).unwrap();
        assert_eq!(q.offset_token(&prof).unwrap(), 3);
        for other in [
            Route::ListUserProficiencies("i".into(), "v".into()),
            Route::ListUserProficiencies("j".into(), "u".into()),
            // The same bytes split differently between instance and user.
            Route::ListUserProficiencies("iu".into(), "".into()),
            Route::ListUserHierarchyGroups("i".into()),
        ] {
            assert!(q.offset_token(&ctx(other.clone())).is_err(), "{other:?}");
            assert!(q.key_token(&ctx(other.clone())).is_err(), "{other:?}");
        }
        let groups = ctx(Route::ListUserHierarchyGroups("i".into()));
        let t = key_token(&groups, "g-1");
        let q = Query::parse(&format!("nextToken={t}"), 100).unwrap();
        assert_eq!(q.key_token(&groups).unwrap().as_deref(), Some("g-1"));
        assert!(q
            .key_token(&ctx(Route::ListUserHierarchyGroups("j".into())))
            .is_err());
        // Nor is a SearchUsers token a list token, or the reverse.
        let search = crate::criteria::paging::encode_token(
            &Filter::all(),
            &crate::criteria::paging::SortKey::new("a", "1"),
        );
        let q = Query::parse(&format!("nextToken={search}"), 100).unwrap();
        assert!(q.key_token(&groups).is_err());
        assert!(q.offset_token(&prof).is_err());
    }
}
