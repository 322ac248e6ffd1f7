//! Black-box tests of the face-matching library API: the search against a
//! brute-force f64 reference, a state machine against a plain model of
//! SPEC section 4, one test per error case, and durability (reopen, torn
//! log tail, kill -9 of a writing child process).

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use rollcall::faces::*;
use rollcall::ErrorType;
use serde_json::json;

use crate::util::faces as faces_common;
use crate::util::process::{run_then_kill, test_name, test_seed};
use faces_common::{all_user_ids, list_all, lying_npy, ok, LYING_SHAPES};

fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    (dir, e)
}

fn call(e: &Engine, op: &str, body: serde_json::Value) -> Result<serde_json::Value, Error> {
    e.call(op, &body.to_string())
}

fn fails(e: &Engine, op: &str, body: serde_json::Value, kind: ErrorType, needle: &str) {
    let err = call(e, op, body.clone()).expect_err(&format!("{op} {body} must fail"));
    assert_eq!(err.error_type(), kind, "{op} {body}: {err}");
    assert!(
        err.to_string().contains(needle),
        "{op}: message {:?} lacks {needle:?}",
        err.to_string()
    );
}

fn image(rows: usize, dim: usize, data: &[f32]) -> serde_json::Value {
    use base64::Engine as _;
    json!({ "Bytes": base64::engine::general_purpose::STANDARD.encode(npy_bytes(rows, dim, data)) })
}

// ---------------------------------------------------------------------------
// Search against a brute-force f64 reference.

/// A random collection: vectors (some exact copies of others), owners,
/// deleted faces.
#[derive(Debug, Clone)]
struct World {
    dim: usize,
    vectors: Vec<Vec<f32>>,
    /// Pool identity of each vector: copies share it.
    origin: Vec<usize>,
    owner: Vec<Option<usize>>,
    deleted: Vec<bool>,
    users: usize,
}

fn world() -> impl Strategy<Value = World> {
    (2usize..7, 1usize..40, 0usize..6).prop_flat_map(|(dim, n, users)| {
        (
            prop::collection::vec(prop::collection::vec(-1.0f32..1.0, dim), n),
            prop::collection::vec(prop::option::weighted(0.3, 0usize..n), n),
            prop::collection::vec(prop::option::weighted(0.7, 0usize..users.max(1)), n),
            prop::collection::vec(prop::bool::weighted(0.15), n),
        )
            .prop_map(move |(raw, copy_of, owner, deleted)| {
                let mut vectors: Vec<Vec<f32>> = Vec::new();
                let mut origin = Vec::new();
                for (i, v) in raw.into_iter().enumerate() {
                    let v = if v.iter().all(|x| x.abs() < 1e-3) {
                        vec![1.0; dim]
                    } else {
                        v
                    };
                    match copy_of[i].filter(|&j| j < i) {
                        Some(j) => {
                            vectors.push(vectors[j].clone());
                            origin.push(origin[j]);
                        }
                        None => {
                            vectors.push(v);
                            origin.push(i);
                        }
                    }
                }
                let owner = owner.into_iter().map(|o| o.filter(|_| users > 0)).collect();
                World {
                    dim,
                    vectors,
                    origin,
                    owner,
                    deleted,
                    users,
                }
            })
    })
}

fn cos64(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Builds the world in an engine; gives face ids per vector and user names.
fn build(e: &Engine, w: &World) -> (Vec<String>, Vec<String>) {
    e.create_collection_with_dim("c", w.dim).unwrap();
    let flat: Vec<f32> = w.vectors.concat();
    let ids = e.import_faces("c", flat, w.dim, None).unwrap();
    let users: Vec<String> = (0..w.users).map(|u| format!("user-{u:02}")).collect();
    for (u, name) in users.iter().enumerate() {
        ok(
            e,
            "CreateUser",
            json!({"CollectionId": "c", "UserId": name}),
        );
        let mine: Vec<&String> = ids
            .iter()
            .zip(&w.owner)
            .filter(|(_, o)| **o == Some(u))
            .map(|(id, _)| id)
            .collect();
        for chunk in mine.chunks(100) {
            ok(
                e,
                "AssociateFaces",
                json!({"CollectionId": "c", "UserId": name, "FaceIds": chunk, "UserMatchThreshold": 0}),
            );
        }
    }
    let gone: Vec<&String> = ids
        .iter()
        .zip(&w.deleted)
        .filter(|(_, d)| **d)
        .map(|(id, _)| id)
        .collect();
    if !gone.is_empty() {
        ok(
            e,
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": gone}),
        );
    }
    (ids, users)
}

/// A ranked reference entry: similarity, tie key, and the identity of the
/// vector pair that produced the score (equal pairs give bit-equal scores).
type Ranked = (f64, String, (usize, usize));

/// Rejects cases whose answer depends on rounding: two different vector
/// pairs within 1e-3 of each other, or a score within 1e-3 of the threshold.
fn well_separated(scores: &[Ranked], threshold: f64) -> bool {
    for (i, a) in scores.iter().enumerate() {
        if (a.0 - threshold).abs() < 1e-3 && a.0 > 0.0 {
            return false;
        }
        if a.0 > 0.0 && a.0 < 1e-3 {
            return false;
        }
        for b in &scores[i + 1..] {
            if a.2 != b.2 && (a.0 - b.0).abs() < 1e-3 && !(a.0 == 0.0 && b.0 == 0.0) {
                return false;
            }
        }
    }
    true
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn ranked(mut v: Vec<Ranked>, threshold: f64, k: usize) -> Vec<(String, f64)> {
    v.retain(|r| r.0 >= threshold);
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    v.into_iter().take(k).map(|r| (r.1, r.0)).collect()
}

fn assert_same(got: Vec<(String, f64)>, want: Vec<(String, f64)>) -> Result<(), TestCaseError> {
    let got_ids: Vec<&String> = got.iter().map(|g| &g.0).collect();
    let want_ids: Vec<&String> = want.iter().map(|w| &w.0).collect();
    prop_assert_eq!(got_ids, want_ids);
    for (g, w) in got.iter().zip(&want) {
        prop_assert!(
            (g.1 - w.1).abs() < 1e-3,
            "score {} vs reference {}",
            g.1,
            w.1
        );
    }
    Ok(())
}

fn sim64(c: f64) -> f64 {
    100.0 * c.clamp(0.0, 1.0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, max_global_rejects: 8192, ..ProptestConfig::default() })]

    #[test]
    fn search_faces_equals_brute_force(w in world(), probe in any::<prop::sample::Index>(), k in 1usize..8, t in prop_oneof![Just(0.0f64), 0.0f64..100.0]) {
        let live: Vec<usize> = (0..w.vectors.len()).filter(|&i| !w.deleted[i]).collect();
        prop_assume!(!live.is_empty());
        let p = live[probe.index(live.len())];
        let reference: Vec<Ranked> = live.iter().filter(|&&i| i != p).map(|&i| {
            (sim64(cos64(&w.vectors[p], &w.vectors[i])), String::new(), pair(w.origin[p], w.origin[i]))
        }).collect();
        prop_assume!(well_separated(&reference, t));
        let (_dir, e) = engine();
        let (ids, _) = build(&e, &w);
        let reference: Vec<Ranked> = live.iter().filter(|&&i| i != p).map(|&i| {
            (sim64(cos64(&w.vectors[p], &w.vectors[i])), ids[i].clone(), pair(w.origin[p], w.origin[i]))
        }).collect();
        let r = e.search_faces(&SearchFacesRequest {
            collection_id: "c".into(), face_id: ids[p].clone(), max_faces: Some(k as i64), face_match_threshold: Some(t),
        }).unwrap();
        let got = r.face_matches.iter().map(|m| (m.face.face_id.clone(), m.similarity)).collect();
        assert_same(got, ranked(reference.clone(), t, k))?;
        // The batch path (faer matmul) agrees with the single-probe path.
        let probes: Vec<f32> = [w.vectors[p].clone(), w.vectors[live[0]].clone()].concat();
        let batch = e.search_batch("c", &probes, k + 1, t as f32).unwrap();
        let single = e.search_vector("c", &w.vectors[p], k + 1, t as f32).unwrap();
        let ids_of = |v: &[FaceMatch]| v.iter().map(|m| m.face.face_id.clone()).collect::<Vec<_>>();
        prop_assert_eq!(ids_of(&batch[0]), ids_of(&single));
    }

    #[test]
    fn search_users_equals_brute_force(w in world(), probe in any::<prop::sample::Index>(), by_user in any::<bool>(), k in 1usize..6, t in prop_oneof![Just(0.0f64), 0.0f64..100.0]) {
        let live: Vec<usize> = (0..w.vectors.len()).filter(|&i| !w.deleted[i]).collect();
        prop_assume!(!live.is_empty());
        let p = live[probe.index(live.len())];
        // Probes: the face, or all live faces of its owner.
        let (probes, exclude): (Vec<usize>, Option<usize>) = match (by_user, w.owner[p]) {
            (true, Some(u)) => (live.iter().copied().filter(|&i| w.owner[i] == Some(u)).collect(), Some(u)),
            (true, None) => { prop_assume!(false); unreachable!() }
            (false, _) => (vec![p], None),
        };
        let mut reference: Vec<Ranked> = Vec::new();
        for u in (0..w.users).filter(|&u| Some(u) != exclude) {
            let mut pairs: Vec<(f64, (usize, usize))> = live.iter().filter(|&&i| w.owner[i] == Some(u)).flat_map(|&i| probes.iter().map(move |&q| (i, q)))
                .map(|(i, q)| (cos64(&w.vectors[q], &w.vectors[i]), pair(w.origin[q], w.origin[i])))
                .collect();
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            if let Some(&(c, key)) = pairs.first() {
                // A user whose best score two different vector pairs reach
                // (within 1e-3) has no one pair identity: which of them is
                // higher, and so its rank against a user holding either
                // pair, is rounding.
                prop_assume!(pairs.get(1).is_none_or(|&(c2, k2)| k2 == key || sim64(c) - sim64(c2) >= 1e-3));
                reference.push((sim64(c), format!("user-{u:02}"), key));
            }
        }
        prop_assume!(well_separated(&reference, t));
        let (_dir, e) = engine();
        let (ids, users) = build(&e, &w);
        let req = SearchUsersRequest {
            collection_id: "c".into(),
            face_id: (!by_user).then(|| ids[p].clone()),
            user_id: exclude.map(|u| users[u].clone()),
            user_match_threshold: Some(t),
            max_users: Some(k as i64),
        };
        let r = e.search_users(&req).unwrap();
        let got = r.user_matches.iter().map(|m| (m.user.user_id.clone(), m.similarity)).collect();
        assert_same(got, ranked(reference, t, k))?;
        prop_assert!(r.user_matches.iter().all(|m| m.user.user_status == UserStatus::Active));
    }
}

#[test]
fn search_users_breaks_ties_by_user_id_and_skips_faceless_users() {
    let (_dir, e) = engine();
    e.create_collection_with_dim("c", 2).unwrap();
    let a = e.index_face("c", &[1.0, 0.0], None).unwrap();
    let b = e.index_face("c", &[1.0, 0.0], None).unwrap();
    for u in ["zed", "amy", "empty"] {
        ok(&e, "CreateUser", json!({"CollectionId": "c", "UserId": u}));
    }
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "zed", "FaceIds": [a]}),
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "amy", "FaceIds": [b]}),
    );
    let r = e.search_users_by_vector("c", &[1.0, 0.0], 10, 0.0).unwrap();
    let names: Vec<&str> = r.iter().map(|m| m.user.user_id.as_str()).collect();
    assert_eq!(names, ["amy", "zed"]);
    // The searched user itself is never returned.
    let r = ok(
        &e,
        "SearchUsers",
        json!({"CollectionId": "c", "UserId": "amy"}),
    );
    assert_eq!(r["UserMatches"][0]["User"]["UserId"], "zed");
    assert_eq!(r["UserMatches"].as_array().unwrap().len(), 1);
    assert_eq!(r["SearchedUser"]["UserId"], "amy");
}

// ---------------------------------------------------------------------------
// State machine against a plain model of SPEC section 4.

/// Four directions with well-separated similarities (100, 96, 28, 0).
const DIRECTIONS: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.96, 0.28, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0],
];

#[derive(Debug, Clone)]
enum Step {
    CreateUser(usize, Option<usize>),
    DeleteUser(usize, Option<usize>),
    Index(Vec<usize>),
    DeleteFaces(Vec<usize>),
    Associate(usize, Vec<usize>, Option<usize>),
    Disassociate(usize, Vec<usize>, Option<usize>),
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    let token = prop::option::of(0usize..3);
    let faces = prop::collection::vec(0usize..12, 1..4);
    prop_oneof![
        2 => (0usize..4, token.clone()).prop_map(|(u, t)| Step::CreateUser(u, t)),
        1 => (0usize..4, token.clone()).prop_map(|(u, t)| Step::DeleteUser(u, t)),
        2 => prop::collection::vec(0usize..4, 1..4).prop_map(Step::Index),
        1 => faces.clone().prop_map(Step::DeleteFaces),
        3 => (0usize..4, faces.clone(), token.clone()).prop_map(|(u, f, t)| Step::Associate(u, f, t)),
        2 => (0usize..4, faces, token).prop_map(|(u, f, t)| Step::Disassociate(u, f, t)),
        1 => Just(Step::Reopen),
    ]
}

#[derive(Debug, Default)]
struct Model {
    /// Face id -> (direction, owner); absent when deleted.
    faces: BTreeMap<String, (usize, Option<String>)>,
    /// Faces in indexing order (including deleted ones, for references).
    created: Vec<String>,
    /// Users in creation order with their faces.
    users: Vec<(String, Vec<String>)>,
    tokens: HashMap<(&'static str, String), (String, serde_json::Value)>,
}

impl Model {
    fn user(&self, u: &str) -> Option<usize> {
        self.users.iter().position(|(n, _)| n == u)
    }
    fn status(&self, u: &str) -> &'static str {
        match self.user(u) {
            Some(i) if !self.users[i].1.is_empty() => "ACTIVE",
            _ => "CREATED",
        }
    }
    fn sim(&self, a: &str, b: &str) -> f64 {
        let d = |f: &str| DIRECTIONS[self.faces[f].0].map(f64::from);
        let (x, y) = (d(a), d(b));
        100.0 * (x[0] * y[0] + x[1] * y[1] + x[2] * y[2]).max(0.0)
    }
    fn face_ref(&self, i: usize) -> String {
        self.created
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("00000000-0000-4000-8000-{i:012}"))
    }
    /// Runs `f` under token semantics: replay, mismatch, or record success.
    fn with_token(
        &mut self,
        api: &'static str,
        token: Option<usize>,
        params: String,
        f: impl FnOnce(&mut Model) -> Result<serde_json::Value, &'static str>,
    ) -> Result<serde_json::Value, &'static str> {
        let key = token.map(|t| (api, format!("tok-{t}")));
        if let Some((p, resp)) = key.as_ref().and_then(|k| self.tokens.get(k)) {
            return if *p == params {
                Ok(resp.clone())
            } else {
                Err("IdempotentParameterMismatchException")
            };
        }
        let r = f(self)?;
        if let Some(k) = key {
            self.tokens.insert(k, (params, r.clone()));
        }
        Ok(r)
    }
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in ids {
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    out
}

fn model_step(m: &mut Model, s: &Step) -> Result<serde_json::Value, &'static str> {
    match s {
        Step::CreateUser(u, t) => {
            let name = format!("u{u}");
            m.with_token("create", *t, name.clone(), |m| {
                if m.user(&name).is_some() {
                    return Err("ConflictException");
                }
                m.users.push((name, Vec::new()));
                Ok(json!({}))
            })
        }
        Step::DeleteUser(u, t) => {
            let name = format!("u{u}");
            m.with_token("delete", *t, name.clone(), |m| {
                let i = m.user(&name).ok_or("ResourceNotFoundException")?;
                let (_, faces) = m.users.remove(i);
                for f in faces {
                    if let Some(x) = m.faces.get_mut(&f) {
                        x.1 = None;
                    }
                }
                Ok(json!({}))
            })
        }
        Step::DeleteFaces(refs) => {
            let ids = dedup(&refs.iter().map(|&r| m.face_ref(r)).collect::<Vec<_>>());
            let (mut deleted, mut failed) = (Vec::new(), Vec::new());
            for id in ids {
                match m.faces.remove(&id) {
                    Some((_, owner)) => {
                        if let Some(i) = owner.and_then(|o| m.user(&o)) {
                            m.users[i].1.retain(|f| *f != id);
                        }
                        deleted.push(json!(id));
                    }
                    None => failed.push(json!({"FaceId": id, "Reasons": ["FACE_NOT_FOUND"]})),
                }
            }
            let mut r = serde_json::Map::new();
            r.insert("DeletedFaces".into(), json!(deleted));
            r.insert("UnsuccessfulFaceDeletions".into(), json!(failed));
            Ok(serde_json::Value::Object(r))
        }
        Step::Associate(u, refs, t) => {
            let name = format!("u{u}");
            let ids = dedup(&refs.iter().map(|&r| m.face_ref(r)).collect::<Vec<_>>());
            m.with_token("associate", *t, format!("{name}{ids:?}"), |m| {
                let i = m.user(&name).ok_or("ResourceNotFoundException")?;
                let existing = m.users[i].1.clone();
                let (mut ok, mut failed, mut new) = (Vec::new(), Vec::new(), Vec::new());
                for id in &ids {
                    match m.faces.get(id) {
                        None => failed.push(json!({"FaceId": id, "UserId": name, "Reasons": ["FACE_NOT_FOUND"]})),
                        Some((_, Some(o))) if *o == name => ok.push(json!({"FaceId": id})),
                        Some((_, Some(o))) => failed.push(json!({"FaceId": id, "UserId": o, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]})),
                        Some((_, None)) => {
                            let best = existing.iter().map(|f| m.sim(f, id)).fold(0.0, f64::max);
                            if !existing.is_empty() && best < 75.0 {
                                failed.push(json!({"FaceId": id, "UserId": name, "Confidence": best, "Reasons": ["LOW_MATCH_CONFIDENCE"]}));
                            } else {
                                new.push(id.clone());
                                ok.push(json!({"FaceId": id}));
                            }
                        }
                    }
                }
                for id in &new {
                    m.faces.get_mut(id).unwrap().1 = Some(name.clone());
                    m.users[i].1.push(id.clone());
                }
                let mut r = serde_json::Map::new();
                r.insert("AssociatedFaces".into(), json!(ok));
                r.insert("UnsuccessfulFaceAssociations".into(), json!(failed));
                r.insert("UserStatus".into(), json!(m.status(&name)));
                Ok(serde_json::Value::Object(r))
            })
        }
        Step::Disassociate(u, refs, t) => {
            let name = format!("u{u}");
            let ids = dedup(&refs.iter().map(|&r| m.face_ref(r)).collect::<Vec<_>>());
            m.with_token("disassociate", *t, format!("{name}{ids:?}"), |m| {
                let i = m.user(&name).ok_or("ResourceNotFoundException")?;
                let (mut ok, mut failed) = (Vec::new(), Vec::new());
                for id in &ids {
                    match m.faces.get_mut(id) {
                        None => failed.push(json!({"FaceId": id, "UserId": name, "Reasons": ["FACE_NOT_FOUND"]})),
                        Some((_, owner)) if owner.as_deref() == Some(name.as_str()) => {
                            *owner = None;
                            m.users[i].1.retain(|f| f != id);
                            ok.push(json!({"FaceId": id}));
                        }
                        Some((_, Some(o))) => failed.push(json!({"FaceId": id, "UserId": o, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]})),
                        Some((_, None)) => {}
                    }
                }
                let mut r = serde_json::Map::new();
                r.insert("DisassociatedFaces".into(), json!(ok));
                r.insert("UnsuccessfulFaceDisassociations".into(), json!(failed));
                r.insert("UserStatus".into(), json!(m.status(&name)));
                Ok(serde_json::Value::Object(r))
            })
        }
        Step::Index(_) | Step::Reopen => Ok(json!({})),
    }
}

/// Rounds every `Confidence` to 3 decimals so f32 and f64 scores compare.
fn rounded(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "Confidence" {
                    *x = json!((x.as_f64().unwrap_or(0.0) * 1000.0).round() / 1000.0);
                } else {
                    *x = rounded(x.take());
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| *x = rounded(x.take())),
        _ => {}
    }
    v
}

fn engine_step(e: &Engine, m: &Model, s: &Step) -> Result<serde_json::Value, String> {
    let tok = |t: &Option<usize>| t.map(|t| format!("tok-{t}"));
    let ids = |refs: &Vec<usize>| refs.iter().map(|&r| m.face_ref(r)).collect::<Vec<_>>();
    let (op, mut body) = match s {
        Step::CreateUser(u, t) => (
            "CreateUser",
            json!({"UserId": format!("u{u}"), "ClientRequestToken": tok(t)}),
        ),
        Step::DeleteUser(u, t) => (
            "DeleteUser",
            json!({"UserId": format!("u{u}"), "ClientRequestToken": tok(t)}),
        ),
        Step::DeleteFaces(refs) => ("DeleteFaces", json!({"FaceIds": ids(refs)})),
        Step::Associate(u, refs, t) => (
            "AssociateFaces",
            json!({"UserId": format!("u{u}"), "FaceIds": ids(refs), "ClientRequestToken": tok(t)}),
        ),
        Step::Disassociate(u, refs, t) => (
            "DisassociateFaces",
            json!({"UserId": format!("u{u}"), "FaceIds": ids(refs), "ClientRequestToken": tok(t)}),
        ),
        Step::Index(_) | Step::Reopen => return Ok(json!({})),
    };
    body["CollectionId"] = json!("c");
    if body.get("ClientRequestToken") == Some(&serde_json::Value::Null) {
        body.as_object_mut().unwrap().remove("ClientRequestToken");
    }
    e.call(op, &body.to_string())
        .map_err(|err| err.error_type().as_str().to_string())
}

fn compare_state(e: &Engine, m: &Model) -> Result<(), TestCaseError> {
    let users = ok(
        e,
        "ListUsers",
        json!({"CollectionId": "c", "MaxResults": 500}),
    );
    let want: Vec<serde_json::Value> = m
        .users
        .iter()
        .map(|(n, _)| json!({"UserId": n, "UserStatus": m.status(n)}))
        .collect();
    prop_assert_eq!(
        users.get("Users").cloned().unwrap_or(json!([])),
        json!(want)
    );
    let faces = ok(e, "ListFaces", json!({"CollectionId": "c"}));
    let got: Vec<(String, Option<String>)> = faces
        .get("Faces")
        .and_then(|f| f.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            (
                f["FaceId"].as_str().unwrap().to_string(),
                f.get("UserId").and_then(|u| u.as_str()).map(str::to_string),
            )
        })
        .collect();
    let want: Vec<(String, Option<String>)> = m
        .created
        .iter()
        .filter_map(|id| m.faces.get(id).map(|(_, o)| (id.clone(), o.clone())))
        .collect();
    prop_assert_eq!(got, want);
    for (n, faces) in &m.users {
        let r = ok(e, "ListFaces", json!({"CollectionId": "c", "UserId": n}));
        let got: Vec<String> = r
            .get("Faces")
            .and_then(|f| f.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .map(|f| f["FaceId"].as_str().unwrap().to_string())
            .collect();
        let mut want: Vec<String> = faces.clone();
        want.sort_by_key(|f| m.created.iter().position(|c| c == f));
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn state_machine_matches_model(steps in prop::collection::vec(step(), 1..60)) {
        let dir = tempfile::tempdir().unwrap();
        let mut e = Engine::open(dir.path()).unwrap();
        e.create_collection_with_dim("c", 3).unwrap();
        let mut m = Model::default();
        for s in &steps {
            match s {
                Step::Index(dirs) => {
                    for &d in dirs {
                        let id = e.index_face("c", &DIRECTIONS[d], None).unwrap();
                        m.faces.insert(id.clone(), (d, None));
                        m.created.push(id);
                    }
                }
                Step::Reopen => {
                    e = Engine::open(dir.path()).unwrap();
                    compare_state(&e, &m)?;
                }
                _ => {
                    let got = engine_step(&e, &m, s).map(rounded);
                    let want = model_step(&mut m, s).map(rounded).map_err(str::to_string);
                    prop_assert_eq!(got, want, "step {:?}", s);
                }
            }
        }
        compare_state(&e, &m)?;
        let reopened = Engine::open(dir.path()).unwrap();
        compare_state(&reopened, &m)?;
    }
}

/// The case proptest shrank a failure of `state_machine_matches_model` to
/// (tests/faces.proptest-regressions): creating a user as the first step.
#[test]
fn state_machine_create_user_as_the_first_step() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::open(dir.path()).unwrap();
    e.create_collection_with_dim("c", 3).unwrap();
    let mut m = Model::default();
    let s = Step::CreateUser(0, None);
    let got = engine_step(&e, &m, &s).map(rounded);
    let want = model_step(&mut m, &s).map(rounded).map_err(str::to_string);
    assert_eq!(got, want);
    compare_state(&e, &m).unwrap();
    compare_state(&Engine::open(dir.path()).unwrap(), &m).unwrap();
}

// ---------------------------------------------------------------------------
// One test per error case of SPEC section 4 and of the model's limits.

/// Collection `c` (dimension 2) with face `FACE` owned by user `u`, face
/// `FREE` owned by nobody, and user `v` without faces.
fn fixture() -> (tempfile::TempDir, Engine, String, String) {
    let (dir, e) = engine();
    e.create_collection_with_dim("c", 2).unwrap();
    let face = e.index_face("c", &[1.0, 0.0], Some("img-1")).unwrap();
    let free = e.index_face("c", &[0.0, 1.0], None).unwrap();
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "u"}),
    );
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "v"}),
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [face]}),
    );
    (dir, e, face, free)
}

macro_rules! error_case {
    ($name:ident, $op:literal, $body:tt, $kind:ident, $needle:literal) => {
        #[test]
        fn $name() {
            let (_dir, e, face, free) = fixture();
            let body = json!($body)
                .to_string()
                .replace("FACE", &face)
                .replace("FREE", &free);
            let body = body.replace("\"LONG\"", &format!("\"{}\"", "x".repeat(300)));
            let body = body.replace("\"NOTNPY\"", "\"R0lGODlhAQABAAAAACw=\"");
            let err = e.call($op, &body).expect_err("must fail");
            assert_eq!(err.error_type(), ErrorType::$kind, "{err}");
            assert!(
                err.to_string().contains($needle),
                "{:?} lacks {:?}",
                err.to_string(),
                $needle
            );
        }
    };
}

error_case!(create_existing_collection, "CreateCollection", {"CollectionId": "c"}, ResourceAlreadyExistsException, "'c' already exists");
error_case!(unknown_collection, "DescribeCollection", {"CollectionId": "nope"}, ResourceNotFoundException, "'nope'");
error_case!(collection_id_pattern, "CreateCollection", {"CollectionId": "a/b"}, InvalidParameterException, "CollectionId");
error_case!(collection_id_too_long, "CreateCollection", {"CollectionId": "LONG"}, InvalidParameterException, "CollectionId: length must be 1..255");
error_case!(
    collection_id_missing,
    "DescribeCollection",
    {},
    InvalidParameterException,
    "CollectionId"
);
error_case!(tag_key_reserved, "CreateCollection", {"CollectionId": "t", "Tags": {"aws:x": "1"}}, InvalidParameterException, "aws:");
error_case!(unknown_member, "ListUsers", {"CollectionId": "c", "Colour": 1}, InvalidParameterException, "unknown field `Colour`");
error_case!(wrong_member_type, "ListUsers", {"CollectionId": "c", "MaxResults": "ten"}, SerializationException, "MaxResults");
error_case!(
    unknown_operation,
    "Frobnicate",
    {},
    InvalidParameterException,
    "unknown operation"
);
error_case!(list_collections_bad_token, "ListCollections", {"NextToken": "c1.00000000"}, InvalidPaginationTokenException, "NextToken");
error_case!(list_users_bad_token, "ListUsers", {"CollectionId": "c", "NextToken": "garbage"}, InvalidPaginationTokenException, "NextToken");
error_case!(list_faces_bad_token, "ListFaces", {"CollectionId": "c", "NextToken": "f1.12345678"}, InvalidPaginationTokenException, "NextToken");
error_case!(next_token_too_long, "ListUsers", {"CollectionId": "c", "NextToken": "LONG"}, InvalidParameterException, "NextToken: length");
error_case!(list_users_max_results_zero, "ListUsers", {"CollectionId": "c", "MaxResults": 0}, InvalidParameterException, "MaxResults: must be 1..500");
error_case!(list_users_max_results_501, "ListUsers", {"CollectionId": "c", "MaxResults": 501}, InvalidParameterException, "MaxResults: must be 1..500");
error_case!(list_faces_max_results_4097, "ListFaces", {"CollectionId": "c", "MaxResults": 4097}, InvalidParameterException, "MaxResults: must be 0..4096");
error_case!(list_collections_max_results_negative, "ListCollections", {"MaxResults": -1}, InvalidParameterException, "MaxResults");
error_case!(list_faces_unknown_user, "ListFaces", {"CollectionId": "c", "UserId": "ghost"}, ResourceNotFoundException, "'ghost'");
error_case!(list_faces_empty_face_ids, "ListFaces", {"CollectionId": "c", "FaceIds": []}, InvalidParameterException, "FaceIds: must hold 1..4096");
error_case!(image_s3_object, "IndexFaces", {"CollectionId": "c", "Image": {"S3Object": {"Bucket": "b", "Name": "n"}}}, InvalidImageFormatException, ".npy");
error_case!(image_missing, "IndexFaces", {"CollectionId": "c"}, InvalidImageFormatException, "float32");
error_case!(image_not_base64, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "***"}}, InvalidImageFormatException, "not base64");
error_case!(image_not_npy, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}}, InvalidImageFormatException, "neither a JPEG or PNG photo nor a .npy file (by their first bytes); expected a JPEG or PNG photo, or a NumPy .npy file of float32");
error_case!(external_image_id_pattern, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "ExternalImageId": "a b"}, InvalidParameterException, "ExternalImageId");
error_case!(index_max_faces_zero, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "MaxFaces": 0}, InvalidParameterException, "MaxFaces");
error_case!(quality_filter_enum, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "QualityFilter": "GREAT"}, InvalidParameterException, "QualityFilter");
error_case!(detection_attributes_enum, "IndexFaces", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "DetectionAttributes": ["HATS"]}, InvalidParameterException, "DetectionAttributes[0]");
error_case!(delete_faces_none, "DeleteFaces", {"CollectionId": "c", "FaceIds": []}, InvalidParameterException, "FaceIds: must hold 1..4096");
error_case!(face_id_uppercase, "SearchFaces", {"CollectionId": "c", "FaceId": "ABCDEF00-0000-4000-8000-000000000000"}, InvalidParameterException, "FaceId");
// AWS answers a face id that is not in the collection with a bad parameter.
error_case!(search_faces_unknown_face, "SearchFaces", {"CollectionId": "c", "FaceId": "abcdef00-0000-4000-8000-000000000000"}, InvalidParameterException, "FaceId: face 'abcdef00-0000-4000-8000-000000000000' was not found in collection 'c'");
error_case!(search_users_unknown_face, "SearchUsers", {"CollectionId": "c", "FaceId": "abcdef00-0000-4000-8000-000000000000"}, InvalidParameterException, "FaceId: face 'abcdef00-0000-4000-8000-000000000000' was not found");
error_case!(search_faces_max_faces_zero, "SearchFaces", {"CollectionId": "c", "FaceId": "FACE", "MaxFaces": 0}, InvalidParameterException, "MaxFaces: must be 1..4096");
error_case!(search_faces_max_faces_4097, "SearchFaces", {"CollectionId": "c", "FaceId": "FACE", "MaxFaces": 4097}, InvalidParameterException, "MaxFaces: must be 1..4096");
error_case!(face_match_threshold_above_100, "SearchFaces", {"CollectionId": "c", "FaceId": "FACE", "FaceMatchThreshold": 100.5}, InvalidParameterException, "FaceMatchThreshold: must be 0..100");
error_case!(face_match_threshold_negative, "SearchFacesByImage", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "FaceMatchThreshold": -1}, InvalidParameterException, "FaceMatchThreshold");
error_case!(create_user_existing, "CreateUser", {"CollectionId": "c", "UserId": "u"}, ConflictException, "'u' already exists");
error_case!(user_id_pattern, "CreateUser", {"CollectionId": "c", "UserId": "a b"}, InvalidParameterException, "UserId");
error_case!(user_id_too_long, "CreateUser", {"CollectionId": "c", "UserId": "LONG"}, InvalidParameterException, "UserId: length must be 1..128");
error_case!(token_pattern, "CreateUser", {"CollectionId": "c", "UserId": "w", "ClientRequestToken": "a.b"}, InvalidParameterException, "ClientRequestToken");
error_case!(token_too_long, "DeleteUser", {"CollectionId": "c", "UserId": "u", "ClientRequestToken": "LONG"}, InvalidParameterException, "ClientRequestToken: length must be 1..64");
error_case!(delete_unknown_user, "DeleteUser", {"CollectionId": "c", "UserId": "ghost"}, ResourceNotFoundException, "'ghost'");
error_case!(associate_unknown_user, "AssociateFaces", {"CollectionId": "c", "UserId": "ghost", "FaceIds": ["FREE"]}, ResourceNotFoundException, "'ghost'");
error_case!(associate_no_faces, "AssociateFaces", {"CollectionId": "c", "UserId": "u", "FaceIds": []}, InvalidParameterException, "FaceIds: must hold 1..100");
error_case!(associate_threshold_above_100, "AssociateFaces", {"CollectionId": "c", "UserId": "u", "FaceIds": ["FREE"], "UserMatchThreshold": 101}, InvalidParameterException, "UserMatchThreshold");
error_case!(disassociate_unknown_user, "DisassociateFaces", {"CollectionId": "c", "UserId": "ghost", "FaceIds": ["FREE"]}, ResourceNotFoundException, "'ghost'");
error_case!(disassociate_bad_face_id, "DisassociateFaces", {"CollectionId": "c", "UserId": "u", "FaceIds": ["nope"]}, InvalidParameterException, "FaceIds[0]");
error_case!(search_users_neither_probe, "SearchUsers", {"CollectionId": "c"}, InvalidParameterException, "exactly one of FaceId and UserId");
error_case!(search_users_both_probes, "SearchUsers", {"CollectionId": "c", "UserId": "u", "FaceId": "FACE"}, InvalidParameterException, "exactly one of FaceId and UserId");
error_case!(search_users_max_users_zero, "SearchUsers", {"CollectionId": "c", "UserId": "u", "MaxUsers": 0}, InvalidParameterException, "MaxUsers: must be 1..500");
error_case!(search_users_max_users_501, "SearchUsersByImage", {"CollectionId": "c", "Image": {"Bytes": "NOTNPY"}, "MaxUsers": 501}, InvalidParameterException, "MaxUsers: must be 1..500");
error_case!(search_users_unknown_user, "SearchUsers", {"CollectionId": "c", "UserId": "ghost"}, ResourceNotFoundException, "'ghost'");
error_case!(search_users_threshold_negative, "SearchUsers", {"CollectionId": "c", "FaceId": "FACE", "UserMatchThreshold": -0.5}, InvalidParameterException, "UserMatchThreshold");

#[test]
fn image_too_large() {
    let (_dir, e, _, _) = fixture();
    let rows = MAX_IMAGE_BYTES / 8 + 1;
    let err = call(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(rows, 2, &vec![1.0; rows * 2])}),
    )
    .unwrap_err();
    assert_eq!(err.error_type(), ErrorType::ImageTooLargeException, "{err}");
}

#[test]
fn image_of_float64_is_invalid_format() {
    let (_dir, e, _, _) = fixture();
    let mut bytes = npy_bytes(1, 2, &[1.0, 0.0]);
    let at = bytes.windows(3).position(|w| w == b"<f4").unwrap();
    bytes[at + 2] = b'8';
    bytes.extend_from_slice(&[0; 8]);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    fails(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": {"Bytes": b64}}),
        ErrorType::InvalidImageFormatException,
        "'<f8' is not float32",
    );
}

#[test]
fn vector_length_mismatch_names_both_lengths() {
    let (_dir, e, _, _) = fixture();
    fails(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(1, 3, &[1.0, 2.0, 3.0])}),
        ErrorType::InvalidParameterException,
        "length 3 does not match the collection's dimension 2",
    );
    fails(
        &e,
        "SearchUsersByImage",
        json!({"CollectionId": "c", "Image": image(1, 3, &[1.0, 2.0, 3.0])}),
        ErrorType::InvalidParameterException,
        "dimension 2",
    );
}

#[test]
fn first_face_fixes_the_dimension() {
    let (_dir, e) = engine();
    ok(&e, "CreateCollection", json!({"CollectionId": "c"}));
    assert_eq!(
        ok(&e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceModelVersion"],
        "vector"
    );
    ok(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(2, 4, &[1.0; 8])}),
    );
    assert_eq!(
        ok(&e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceModelVersion"],
        "vector-4"
    );
    fails(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(1, 5, &[1.0; 5])}),
        ErrorType::InvalidParameterException,
        "length 5 does not match the collection's dimension 4",
    );
}

#[test]
fn nan_infinite_and_zero_vectors_are_rejected() {
    let (_dir, e, _, _) = fixture();
    for (v, needle) in [
        ([f32::NAN, 1.0], "NaN"),
        ([f32::INFINITY, 1.0], "inf"),
        ([0.0, 0.0], "zero length"),
    ] {
        let err = e.index_face("c", &v, None).unwrap_err();
        assert_eq!(err.error_type(), ErrorType::InvalidParameterException);
        assert!(err.to_string().contains(needle), "{}", err.to_string());
    }
    assert_eq!(
        ok(&e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceCount"],
        2
    );
}

#[test]
fn empty_vector_is_rejected() {
    let (_dir, e) = engine();
    ok(&e, "CreateCollection", json!({"CollectionId": "c"}));
    let err = e.index_face("c", &[], None).unwrap_err();
    assert_eq!(err.error_type(), ErrorType::InvalidParameterException);
    assert!(err.to_string().contains("empty"), "{}", err.to_string());
    assert_eq!(
        ok(&e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceModelVersion"],
        "vector"
    );
}

#[test]
fn search_by_image_uses_the_first_row_and_lists_the_rest() {
    let (_dir, e, face, _) = fixture();
    let r = ok(
        &e,
        "SearchUsersByImage",
        json!({"CollectionId": "c", "Image": image(3, 2, &[1.0, 0.1, 0.0, 1.0, 0.0, 1.0])}),
    );
    assert_eq!(
        r["UserMatches"][0]["User"],
        json!({"UserId": "u", "UserStatus": "ACTIVE"})
    );
    assert_eq!(r["UnsearchedFaces"].as_array().unwrap().len(), 2);
    assert_eq!(
        r["UnsearchedFaces"][0]["Reasons"],
        json!(["FACE_NOT_LARGEST"])
    );
    let r = ok(
        &e,
        "SearchFacesByImage",
        json!({"CollectionId": "c", "Image": image(2, 2, &[1.0, 0.1, 0.0, 1.0])}),
    );
    assert_eq!(r["FaceMatches"].as_array().unwrap().len(), 1);
    assert_eq!(r["FaceMatches"][0]["Face"]["FaceId"], face.as_str());
    assert_eq!(r["FaceMatches"][0]["Face"]["UserId"], "u");
    assert_eq!(r["SearchedFaceConfidence"], json!(100.0));
}

/// An `Image` of an `.npy` with `shape` in its header and 24 bytes of data.
fn lying_image(shape: &str) -> serde_json::Value {
    use base64::Engine as _;
    json!({ "Bytes": base64::engine::general_purpose::STANDARD.encode(lying_npy(shape)) })
}

#[test]
fn a_header_claiming_a_huge_shape_is_invalid_image_format() {
    let (_dir, e, _, _) = fixture();
    for (shape, need) in LYING_SHAPES {
        for op in ["IndexFaces", "SearchFacesByImage", "SearchUsersByImage"] {
            fails(
                &e,
                op,
                json!({"CollectionId": "c", "Image": lying_image(shape)}),
                ErrorType::InvalidImageFormatException,
                &format!(
                    "Image.Bytes: shape {shape} needs {need} bytes of float32 data, the image has 24"
                ),
            );
        }
    }
    // Too little data for an honest shape is the same error.
    fails(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": lying_image("(7, 1)")}),
        ErrorType::InvalidImageFormatException,
        "shape (7, 1) needs 28 bytes of float32 data, the image has 24",
    );
    assert_eq!(
        ok(&e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceCount"],
        2
    );
}

#[test]
fn an_image_has_at_most_100_faces() {
    let (_dir, e) = engine();
    e.create_collection_with_dim("c", 1).unwrap();
    // The most one-dimensional rows a 5 MiB image holds (header: 128 bytes).
    let rows = (MAX_IMAGE_BYTES - 128) / 4;
    let img = image(rows, 1, &vec![1.0; rows]);
    let started = std::time::Instant::now();
    let r = ok(&e, "IndexFaces", json!({"CollectionId": "c", "Image": img}));
    assert_eq!(
        r["FaceRecords"].as_array().unwrap().len(),
        MAX_FACES_PER_IMAGE
    );
    assert!(
        r.get("UnindexedFaces").is_none_or(|u| u == &json!([])),
        "{}",
        r["UnindexedFaces"]
    );
    assert!(
        r.to_string().len() < 100_000,
        "response of {} bytes",
        r.to_string().len()
    );
    let r = ok(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": img, "MaxFaces": 10}),
    );
    assert_eq!(r["FaceRecords"].as_array().unwrap().len(), 10);
    assert_eq!(r["UnindexedFaces"].as_array().unwrap().len(), 90);
    let r = ok(
        &e,
        "SearchUsersByImage",
        json!({"CollectionId": "c", "Image": img}),
    );
    assert_eq!(r["UnsearchedFaces"].as_array().unwrap().len(), 99);
    let r = ok(
        &e,
        "SearchFacesByImage",
        json!({"CollectionId": "c", "Image": img, "MaxFaces": 4096, "FaceMatchThreshold": 0}),
    );
    assert_eq!(r["FaceMatches"].as_array().unwrap().len(), 110);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    // Rows after the first 100 are not faces: not even looked at.
    let mut data = vec![1.0; 101];
    data[100] = f32::NAN;
    let r = ok(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(101, 1, &data)}),
    );
    assert_eq!(r["FaceRecords"].as_array().unwrap().len(), 100);
    // A bulk import is no image: every row is a face.
    let ids = e.import_faces("c", vec![1.0; 1000], 1, None).unwrap();
    assert_eq!(ids.len(), 1000);
}

#[test]
fn search_image_without_rows_is_invalid_parameter() {
    let (_dir, e, _, _) = fixture();
    fails(
        &e,
        "SearchFacesByImage",
        json!({"CollectionId": "c", "Image": image(0, 2, &[])}),
        ErrorType::InvalidParameterException,
        "no faces",
    );
}

#[test]
fn user_holds_at_most_100_faces() {
    let (_dir, e) = engine();
    e.create_collection_with_dim("c", 2).unwrap();
    let ids = e
        .import_faces("c", [1.0f32, 0.0].repeat(101), 2, None)
        .unwrap();
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "u"}),
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": ids[..100]}),
    );
    fails(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [ids[100]]}),
        ErrorType::ServiceQuotaExceededException,
        "at most 100",
    );
    // Re-associating faces the user has is not a new face.
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [ids[0]]}),
    );
    let err = call(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": ids[..101]}),
    )
    .unwrap_err();
    assert_eq!(
        err.error_type(),
        ErrorType::InvalidParameterException,
        "101 ids: {err}"
    );
}

#[test]
fn token_reused_with_other_parameters_is_a_mismatch() {
    let (_dir, e, face, free) = fixture();
    let t = "tok-1";
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "w", "ClientRequestToken": t}),
    );
    fails(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "x", "ClientRequestToken": t}),
        ErrorType::IdempotentParameterMismatchException,
        t,
    );
    ok(
        &e,
        "DeleteUser",
        json!({"CollectionId": "c", "UserId": "w", "ClientRequestToken": t}),
    );
    fails(
        &e,
        "DeleteUser",
        json!({"CollectionId": "c", "UserId": "v", "ClientRequestToken": t}),
        ErrorType::IdempotentParameterMismatchException,
        t,
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [free], "UserMatchThreshold": 0, "ClientRequestToken": t}),
    );
    fails(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [free], "ClientRequestToken": t}),
        ErrorType::IdempotentParameterMismatchException,
        t,
    );
    ok(
        &e,
        "DisassociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [face], "ClientRequestToken": t}),
    );
    fails(
        &e,
        "DisassociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [free], "ClientRequestToken": t}),
        ErrorType::IdempotentParameterMismatchException,
        t,
    );
}

// ---------------------------------------------------------------------------
// Semantics not covered by the state machine.

#[test]
fn same_token_same_parameters_returns_first_response_and_changes_nothing() {
    let (_dir, e, _, free) = fixture();
    let body = json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free], "ClientRequestToken": "again"});
    let first = ok(&e, "AssociateFaces", body.clone());
    assert_eq!(first["UserStatus"], "ACTIVE");
    ok(
        &e,
        "DisassociateFaces",
        json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free]}),
    );
    // The repeat answers as the first time, and does not associate again.
    assert_eq!(ok(&e, "AssociateFaces", body), first);
    let v = ok(&e, "ListUsers", json!({"CollectionId": "c"}));
    assert_eq!(
        v["Users"][1],
        json!({"UserId": "v", "UserStatus": "CREATED"})
    );
    // ... also after a restart.
    let e2 = Engine::open(_dir.path()).unwrap();
    let again = ok(
        &e2,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free], "ClientRequestToken": "again"}),
    );
    assert_eq!(again, first);
}

#[test]
fn low_match_confidence_reports_the_best_similarity() {
    let (_dir, e, _, free) = fixture();
    let r = ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [free]}),
    );
    assert_eq!(
        r["UnsuccessfulFaceAssociations"][0]["Reasons"],
        json!(["LOW_MATCH_CONFIDENCE"])
    );
    assert_eq!(
        r["UnsuccessfulFaceAssociations"][0]["Confidence"],
        json!(0.0)
    );
    assert_eq!(r["AssociatedFaces"], json!([]));
}

#[test]
fn delete_user_frees_faces_and_delete_faces_leaves_users() {
    let (_dir, e, face, _) = fixture();
    ok(
        &e,
        "DeleteUser",
        json!({"CollectionId": "c", "UserId": "u"}),
    );
    let faces = ok(&e, "ListFaces", json!({"CollectionId": "c"}));
    assert_eq!(faces["Faces"].as_array().unwrap().len(), 2);
    assert!(faces["Faces"][0].get("UserId").is_none());
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "u2"}),
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u2", "FaceIds": [face]}),
    );
    let r = ok(
        &e,
        "DeleteFaces",
        json!({"CollectionId": "c", "FaceIds": [face, "abcdef00-0000-4000-8000-000000000000"]}),
    );
    assert_eq!(r["DeletedFaces"], json!([face]));
    assert_eq!(
        r["UnsuccessfulFaceDeletions"][0]["Reasons"],
        json!(["FACE_NOT_FOUND"])
    );
    let users = ok(&e, "ListUsers", json!({"CollectionId": "c"}));
    assert_eq!(
        users["Users"],
        json!([{"UserId": "v", "UserStatus": "CREATED"}, {"UserId": "u2", "UserStatus": "CREATED"}])
    );
}

#[test]
fn paging_never_repeats_or_skips() {
    let (_dir, e) = engine();
    e.create_collection_with_dim("c", 2).unwrap();
    let ids = e
        .import_faces("c", [1.0f32, 0.5].repeat(25), 2, None)
        .unwrap();
    for i in 0..12 {
        ok(
            &e,
            "CreateUser",
            json!({"CollectionId": "c", "UserId": format!("user-{i:02}")}),
        );
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let r = ok(
            &e,
            "ListFaces",
            json!({"CollectionId": "c", "MaxResults": 7, "NextToken": token}),
        );
        seen.extend(
            r["Faces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["FaceId"].as_str().unwrap().to_string()),
        );
        // Deleting a face already returned does not disturb the pages after it.
        if seen.len() == 7 {
            ok(
                &e,
                "DeleteFaces",
                json!({"CollectionId": "c", "FaceIds": [ids[0]]}),
            );
        }
        match r.get("NextToken").and_then(|t| t.as_str()) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let users = all_user_ids(&e, 5);
    assert_eq!(
        users,
        (0..12).map(|i| format!("user-{i:02}")).collect::<Vec<_>>()
    );
}

#[test]
fn collections_list_sorted_and_paged_and_delete() {
    let (_dir, e) = engine();
    for id in ["b", "a", "c"] {
        ok(&e, "CreateCollection", json!({"CollectionId": id}));
    }
    let p1 = ok(&e, "ListCollections", json!({"MaxResults": 2}));
    assert_eq!(p1["CollectionIds"], json!(["a", "b"]));
    let p2 = ok(&e, "ListCollections", json!({"NextToken": p1["NextToken"]}));
    assert_eq!(p2["CollectionIds"], json!(["c"]));
    assert!(p2.get("NextToken").is_none());
    // Versions come from the files (snapshot, log) as well as from memory.
    e.import_faces("a", vec![1.0; 6], 3, None).unwrap();
    ok(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(1, 2, &[1.0, 0.0])}),
    );
    let fresh = Engine::open(_dir.path()).unwrap();
    assert_eq!(
        ok(&fresh, "ListCollections", json!({}))["FaceModelVersions"],
        json!(["vector-3", "vector", "vector-2"])
    );
    ok(&e, "DeleteCollection", json!({"CollectionId": "b"}));
    fails(
        &e,
        "DeleteCollection",
        json!({"CollectionId": "b"}),
        ErrorType::ResourceNotFoundException,
        "'b'",
    );
    assert_eq!(
        ok(&e, "ListCollections", json!({}))["CollectionIds"],
        json!(["a", "c"])
    );
}

/// Follows `NextToken`s of `op` with `body` until there is none; gives
/// every item of `items`. Fails rather than loop: at most 100 pages.
fn page_all(e: &Engine, op: &str, body: serde_json::Value, items: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut body = body;
    for _ in 0..100 {
        let r = ok(e, op, body.clone());
        out.extend(r[items].as_array().unwrap().iter().cloned());
        match r.get("NextToken") {
            Some(t) => body["NextToken"] = t.clone(),
            None => return out,
        }
    }
    panic!("{op} {body}: still a NextToken after 100 pages");
}

/// The model allows `MaxResults: 0` for `ListFaces` and `ListCollections`:
/// it is the default page size, so that a paginator terminates.
#[test]
fn max_results_zero_is_the_default_page_and_paging_terminates() {
    let (_dir, e) = engine();
    e.create_collection_with_dim("c", 2).unwrap();
    for id in ["a", "b"] {
        ok(&e, "CreateCollection", json!({"CollectionId": id}));
    }
    let ids = e
        .import_faces("c", [1.0f32, 0.5].repeat(1500), 2, None)
        .unwrap();
    let faces = page_all(
        &e,
        "ListFaces",
        json!({"CollectionId": "c", "MaxResults": 0}),
        "Faces",
    );
    let got: Vec<&str> = faces
        .iter()
        .map(|f| f["FaceId"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids);
    let first = ok(
        &e,
        "ListFaces",
        json!({"CollectionId": "c", "MaxResults": 0}),
    );
    assert_eq!(first["Faces"].as_array().unwrap().len(), 1000);
    let colls = page_all(
        &e,
        "ListCollections",
        json!({"MaxResults": 0}),
        "CollectionIds",
    );
    assert_eq!(colls, vec![json!("a"), json!("b"), json!("c")]);
    // ListUsers' model minimum is 1: there 0 is refused.
    fails(
        &e,
        "ListUsers",
        json!({"CollectionId": "c", "MaxResults": 0}),
        ErrorType::InvalidParameterException,
        "MaxResults: must be 1..500",
    );
}

/// A token is a position and a CRC32: anyone can make one. One far past
/// the end is an empty last page, never a token back to an earlier page.
#[test]
fn a_forged_token_past_the_end_ends_the_list() {
    let (_dir, e) = engine();
    for id in ["a", "b"] {
        ok(&e, "CreateCollection", json!({"CollectionId": id}));
    }
    let pos = u64::MAX - 1;
    let crc = crc32fast::hash(format!("\u{0}c{pos}").as_bytes());
    let token = format!("c{pos:x}.{crc:08x}");
    let r = ok(
        &e,
        "ListCollections",
        json!({"MaxResults": 3, "NextToken": token}),
    );
    assert_eq!(r["CollectionIds"], json!([]));
    assert!(r.get("NextToken").is_none(), "{r}");
}

#[test]
fn index_faces_honours_max_faces_and_external_image_id() {
    let (_dir, e) = engine();
    ok(&e, "CreateCollection", json!({"CollectionId": "c"}));
    let r = ok(
        &e,
        "IndexFaces",
        json!({"CollectionId": "c", "Image": image(3, 2, &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]), "MaxFaces": 2, "ExternalImageId": "photo:7"}),
    );
    assert_eq!(r["FaceRecords"].as_array().unwrap().len(), 2);
    assert_eq!(r["FaceRecords"][0]["Face"]["ExternalImageId"], "photo:7");
    assert_eq!(
        r["UnindexedFaces"][0]["Reasons"],
        json!(["EXCEEDS_MAX_FACES"])
    );
    assert_eq!(r["FaceModelVersion"], "vector-2");
}

// ---------------------------------------------------------------------------
// Durability.

fn all_faces(e: &Engine) -> Vec<serde_json::Value> {
    list_all(e, "ListFaces", "Faces", 4096)
}

fn live_face_ids(e: &Engine) -> Vec<String> {
    all_faces(e)
        .iter()
        .map(|f| f["FaceId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn reopen_sees_snapshot_and_log() {
    let (dir, e, face, free) = fixture();
    e.checkpoint("c").unwrap();
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free]}),
    );
    ok(
        &e,
        "DeleteUser",
        json!({"CollectionId": "c", "UserId": "u"}),
    );
    let before = (
        live_face_ids(&e),
        ok(&e, "ListUsers", json!({"CollectionId": "c"})),
    );
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(
        (
            live_face_ids(&e),
            ok(&e, "ListUsers", json!({"CollectionId": "c"}))
        ),
        before
    );
    let r = e.search_vector("c", &[1.0, 0.0], 1, 0.0).unwrap();
    assert_eq!(r[0].face.face_id, face);
}

#[test]
fn torn_log_tail_is_cut_off() {
    let (dir, e, _, _) = fixture();
    let before = ok(&e, "ListUsers", json!({"CollectionId": "c"}));
    drop(e);
    let coll_dir = std::fs::read_dir(dir.path().join("rekognition"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let log = coll_dir.join("log.bin");
    let good_len = std::fs::metadata(&log).unwrap().len();
    // Half a record: a length, a checksum and a few payload bytes.
    let mut bytes = std::fs::read(&log).unwrap();
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    std::fs::write(&log, &bytes).unwrap();
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(ok(&e, "ListUsers", json!({"CollectionId": "c"})), before);
    assert_eq!(std::fs::metadata(&log).unwrap().len(), good_len);
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "after"}),
    );
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(
        ok(&e, "ListUsers", json!({"CollectionId": "c"}))["Users"][2]["UserId"],
        "after"
    );
    // A flipped bit in the last record drops that record only.
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&log, &bytes).unwrap();
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(ok(&e, "ListUsers", json!({"CollectionId": "c"})), before);
}

/// The one collection directory under `data`.
fn collection_dir(data: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(data.join("rekognition"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .find(|p| p.join("meta.json").exists())
        .unwrap()
}

/// Little-endian bytes as the store writes them.
#[derive(Default)]
struct Bin(Vec<u8>);

impl Bin {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u128(mut self, v: u128) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut b = self.u64(s.len() as u64);
        b.0.extend_from_slice(s.as_bytes());
        b
    }
}

const NO_OWNER: u32 = u32::MAX;

/// Snapshot metadata: collection `c`, `dim`, faces (id, owner), users
/// (id, face rows), no tokens.
fn snapshot_meta(dim: u64, faces: &[(u128, u32)], users: &[(&str, &[u32])]) -> Bin {
    let mut b = Bin::default()
        .str("c")
        .u64(0)
        .u64(dim)
        .u64(100)
        .u64(0)
        .u64(faces.len() as u64);
    for &(id, owner) in faces {
        b = b.u128(id).u128(7).u64(1).u32(owner).u8(0);
    }
    b = b.u64(users.len() as u64);
    for (id, rows) in users {
        b = b.str(id).u64(50).u64(rows.len() as u64);
        for &r in *rows {
            b = b.u32(r);
        }
    }
    b.u64(0)
}

/// A whole snapshot file: `meta`, a value count and the values, checksum.
fn snapshot_file(meta: &[u8], meta_len: u64, count: u64, values: &[f32]) -> Vec<u8> {
    let mut b = b"RCSNAP01".to_vec();
    b.extend_from_slice(&meta_len.to_le_bytes());
    b.extend_from_slice(meta);
    b.extend_from_slice(&count.to_le_bytes());
    for v in values {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Opening collection `c` with `file` as its snapshot (or appended to its
/// log): the first call's answer, from a fresh engine.
fn open_with(dir: &std::path::Path, name: &str, file: &[u8]) -> Result<serde_json::Value, Error> {
    let path = collection_dir(dir).join(name);
    if name == "log.bin" {
        let mut log = std::fs::read(&path).unwrap();
        log.extend_from_slice(file);
        std::fs::write(&path, log).unwrap();
    } else {
        std::fs::write(&path, file).unwrap();
    }
    let e = Engine::open(dir).unwrap();
    call(&e, "DescribeCollection", json!({"CollectionId": "c"}))
}

/// Every length and count in a snapshot is checked against the bytes there
/// are: a snapshot whose counts lie is an error on open, never an abort
/// (nor a huge allocation), nor a collection in a state it cannot be in.
#[test]
fn a_snapshot_whose_counts_lie_is_an_error() {
    let good = snapshot_meta(2, &[(1, 0), (2, NO_OWNER)], &[("u", &[0])]).0;
    let values = [1.0, 0.0, 0.0, 1.0];
    let huge = 1u64 << 60;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("faces count 2^60", {
            let m = Bin::default()
                .str("c")
                .u64(0)
                .u64(2)
                .u64(0)
                .u64(0)
                .u64(huge)
                .0;
            snapshot_file(&m, m.len() as u64, 0, &[])
        }),
        ("dimension 2^62 (faces x dim wraps to 0)", {
            let m = snapshot_meta(
                1 << 62,
                &[(1, NO_OWNER), (2, NO_OWNER), (3, NO_OWNER), (4, NO_OWNER)],
                &[],
            )
            .0;
            snapshot_file(&m, m.len() as u64, 0, &[])
        }),
        (
            "value count 2^60",
            snapshot_file(&good, good.len() as u64, huge, &values),
        ),
        (
            "value count short of the file",
            snapshot_file(&good, good.len() as u64, 3, &values),
        ),
        (
            "metadata length 2^60",
            snapshot_file(&good, huge, 4, &values),
        ),
        ("users count 2^60", {
            let mut m = snapshot_meta(2, &[(1, NO_OWNER), (2, NO_OWNER)], &[]).0;
            let at = m.len() - 16;
            m[at..at + 8].copy_from_slice(&huge.to_le_bytes());
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
        ("face id twice", {
            let m = snapshot_meta(2, &[(1, NO_OWNER), (1, NO_OWNER)], &[]).0;
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
        ("user id twice", {
            let m = snapshot_meta(
                2,
                &[(1, NO_OWNER), (2, NO_OWNER)],
                &[("u", &[]), ("u", &[])],
            )
            .0;
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
        ("a user lists a face it does not own", {
            let m = snapshot_meta(2, &[(1, NO_OWNER), (2, NO_OWNER)], &[("u", &[1])]).0;
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
        ("a face owned by a user that does not list it", {
            let m = snapshot_meta(2, &[(1, 0), (2, NO_OWNER)], &[("u", &[])]).0;
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
        ("trailing bytes after the metadata", {
            let mut m = good.clone();
            m.extend_from_slice(&[0; 9]);
            snapshot_file(&m, m.len() as u64, 4, &values)
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    Engine::open(dir.path())
        .unwrap()
        .create_collection_with_dim("c", 2)
        .unwrap();
    // The helpers write what the store reads.
    let r = open_with(
        dir.path(),
        "snapshot.bin",
        &snapshot_file(&good, good.len() as u64, 4, &values),
    )
    .unwrap();
    assert_eq!(
        (r["FaceCount"].clone(), r["UserCount"].clone()),
        (json!(2), json!(1))
    );
    for (what, file) in cases {
        let err = open_with(dir.path(), "snapshot.bin", &file).expect_err(what);
        assert_eq!(
            err.error_type(),
            ErrorType::InternalServerError,
            "{what}: {err}"
        );
        assert!(
            matches!(&err, Error::Storage(s) if s.what() == "corrupt snapshot"),
            "{what}: {err}"
        );
    }
}

/// A log record that is whole and checksummed but does not decode (its
/// counts lie) is corruption, not a torn tail: an error on open, the log
/// left as it is for inspection, never an abort.
#[test]
fn a_log_record_whose_counts_lie_is_an_error_not_a_torn_tail() {
    let huge = 1u64 << 60;
    let frame = |payload: Bin| {
        let p = payload.0;
        let mut f = (p.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        f.extend_from_slice(&p);
        f
    };
    let cases = [
        (
            "2^60 face ids",
            frame(Bin::default().u64(9).u8(5).str("u").u64(huge).u128(1).u8(0)),
        ),
        (
            "a user id of 2^60 bytes",
            frame(Bin::default().u64(9).u8(3).u64(huge).u8(b'u').u8(0)),
        ),
        (
            "2^60 faces indexed",
            frame(Bin::default().u64(9).u8(1).u128(7).u64(2).u64(huge).u8(0)),
        ),
        (
            "2^60 values",
            frame(
                Bin::default()
                    .u64(9)
                    .u8(1)
                    .u128(7)
                    .u64(2)
                    .u64(1)
                    .u128(1)
                    .u8(0)
                    .u64(huge)
                    .u8(0),
            ),
        ),
        // 4 faces of dimension 2^62 need 2^64 values: 0 once wrapped.
        (
            "faces x dimension wraps",
            frame({
                let mut b = Bin::default().u64(9).u8(1).u128(7).u64(1 << 62).u64(4);
                for id in 1..=4 {
                    b = b.u128(id).u8(0);
                }
                b.u64(0).u8(0)
            }),
        ),
    ];
    for (what, record) in cases {
        let (dir, e, _, _) = fixture();
        drop(e);
        let log = collection_dir(dir.path()).join("log.bin");
        let before = std::fs::metadata(&log).unwrap().len();
        let err = open_with(dir.path(), "log.bin", &record).expect_err(what);
        assert_eq!(
            err.error_type(),
            ErrorType::InternalServerError,
            "{what}: {err}"
        );
        assert!(
            matches!(&err, Error::Storage(s) if s.what() == "cannot read log"),
            "{what}: {err}"
        );
        assert!(err.to_string().contains("record at byte"), "{what}: {err}");
        assert_eq!(
            std::fs::metadata(&log).unwrap().len(),
            before + record.len() as u64,
            "{what}: the log was changed"
        );
    }
}

/// Everything a client can see of collection `c`: users with their status,
/// faces with their owners.
fn visible_state(e: &Engine) -> serde_json::Value {
    json!({"users": list_all(e, "ListUsers", "Users", 500), "faces": all_faces(e)})
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A crash can stop an append after any byte. Cut the log at every byte
/// offset: reopening must give exactly the state after the last whole
/// record, never an error, never part of a record.
#[test]
fn a_log_cut_at_any_byte_reopens_to_the_last_whole_record() {
    let (dir, e) = engine();
    e.create_collection_with_dim("c", 4).unwrap();
    let log = collection_dir(dir.path()).join("log.bin");
    // (log length, visible state) after each acknowledged write.
    let mut states = vec![(0u64, visible_state(&e))];
    let mut faces = Vec::new();
    let mut step = |e: &Engine, f: &dyn Fn(&Engine)| {
        f(e);
        states.push((std::fs::metadata(&log).unwrap().len(), visible_state(e)));
    };
    for i in 0..4u64 {
        let v = random_vectors(1, 4, i, None);
        let id = e.index_face("c", &v, Some(&format!("x{i}"))).unwrap();
        faces.push(id.clone());
        step(&e, &|_| {});
        step(&e, &|e| {
            ok(
                e,
                "CreateUser",
                json!({"CollectionId": "c", "UserId": format!("u{i}"), "ClientRequestToken": format!("t{i}")}),
            );
        });
        step(&e, &|e| {
            ok(
                e,
                "AssociateFaces",
                json!({"CollectionId": "c", "UserId": format!("u{i}"), "FaceIds": [id]}),
            );
        });
    }
    step(&e, &|e| {
        ok(
            e,
            "DisassociateFaces",
            json!({"CollectionId": "c", "UserId": "u0", "FaceIds": [faces[0]]}),
        );
    });
    step(&e, &|e| {
        ok(
            e,
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": [faces[1]]}),
        );
    });
    step(&e, &|e| {
        ok(
            e,
            "DeleteUser",
            json!({"CollectionId": "c", "UserId": "u2"}),
        );
    });
    drop(e);
    let full = std::fs::read(&log).unwrap();
    assert_eq!(full.len() as u64, states.last().unwrap().0);
    let copy = tempfile::tempdir().unwrap();
    for cut in 0..=full.len() {
        let _ = std::fs::remove_dir_all(copy.path());
        copy_dir(dir.path(), copy.path());
        std::fs::write(collection_dir(copy.path()).join("log.bin"), &full[..cut]).unwrap();
        let e = Engine::open(copy.path()).unwrap();
        let expected = states
            .iter()
            .rev()
            .find(|(len, _)| *len <= cut as u64)
            .unwrap();
        assert_eq!(visible_state(&e), expected.1, "log cut at byte {cut}");
    }
}

/// A snapshot is written aside, renamed into place, and only then is the
/// log emptied. A crash between the two leaves a snapshot that already
/// holds every record of the log: replaying must not apply them twice.
#[test]
fn a_crash_between_snapshot_and_log_truncation_applies_nothing_twice() {
    let (dir, e, face, free) = fixture();
    ok(
        &e,
        "DeleteFaces",
        json!({"CollectionId": "c", "FaceIds": [face]}),
    );
    ok(
        &e,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free]}),
    );
    let before = visible_state(&e);
    let coll = collection_dir(dir.path());
    let old_log = std::fs::read(coll.join("log.bin")).unwrap();
    assert!(!old_log.is_empty());
    e.checkpoint("c").unwrap();
    drop(e);
    // The log as it was before the truncation that the crash prevented,
    // and the half-written temporary file of a later snapshot.
    std::fs::write(coll.join("log.bin"), &old_log).unwrap();
    std::fs::write(coll.join("snapshot.tmp"), b"RCSNAP01 half written").unwrap();
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(visible_state(&e), before);
    // Writes after it append behind the old records and survive a reopen.
    ok(
        &e,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "late"}),
    );
    ok(
        &e,
        "DisassociateFaces",
        json!({"CollectionId": "c", "UserId": "v", "FaceIds": [free]}),
    );
    let after = visible_state(&e);
    assert_ne!(after, before);
    drop(e);
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(visible_state(&e), after);
    e.checkpoint("c").unwrap();
    assert_eq!(visible_state(&Engine::open(dir.path()).unwrap()), after);
}

#[test]
fn a_long_log_is_folded_into_a_snapshot() {
    let (dir, e) = engine();
    ok(&e, "CreateCollection", json!({"CollectionId": "c"}));
    // An image holds at most 100 faces: wide ones, to fill 5 MiB.
    let (rows, dim) = (MAX_FACES_PER_IMAGE, 13_000);
    let mut ids = Vec::new();
    // 14 calls of 5.2 MB each: the log passes 64 MiB on the 13th.
    for call in 0..14 {
        let data = random_vectors(rows, dim, call, None);
        let r = ok(
            &e,
            "IndexFaces",
            json!({"CollectionId": "c", "Image": image(rows, dim, &data)}),
        );
        ids.extend(
            r["FaceRecords"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["Face"]["FaceId"].as_str().unwrap().to_string()),
        );
    }
    let coll_dir = std::fs::read_dir(dir.path().join("rekognition"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // The snapshot came after the 13th call; only the 14th is in the log.
    assert!(std::fs::metadata(coll_dir.join("log.bin")).unwrap().len() < 6_000_000);
    assert!(
        std::fs::metadata(coll_dir.join("snapshot.bin"))
            .unwrap()
            .len()
            > 13 * 5_000_000
    );
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(live_face_ids(&e), ids);
}

const CHILD_ENV: &str = "ROLLCALL_FACES_DURABILITY_CHILD";

/// Not a test on its own: the writer process of `kill_9_loses_no_acknowledged_write`.
#[test]
fn durability_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: usize = std::env::var("ROLLCALL_FACES_ROUND")
        .unwrap()
        .parse()
        .unwrap();
    let e = Engine::open(&dir).unwrap();
    if round == 0 {
        e.create_collection_with_dim("c", 8).unwrap();
        println!("ACK collection");
    }
    for i in 0.. {
        let v = random_vectors(1, 8, (round * 1_000_000 + i) as u64, None);
        let id = e
            .index_face("c", &v, Some(&format!("r{round}-f{i}")))
            .unwrap();
        println!("ACK face {id}");
        if i % 3 == 0 {
            let user = format!("r{round}-u{i}");
            ok(
                &e,
                "CreateUser",
                json!({"CollectionId": "c", "UserId": user}),
            );
            println!("ACK user {user}");
            ok(
                &e,
                "AssociateFaces",
                json!({"CollectionId": "c", "UserId": user, "FaceIds": [id]}),
            );
            println!("ACK assoc {user} {id}");
        }
        if i % 10 == 5 {
            let ext: Vec<String> = (0..40).map(|j| format!("r{round}-imp{i}-{j}")).collect();
            e.import_faces("c", random_vectors(40, 8, i as u64, None), 8, Some(ext))
                .unwrap();
            println!("ACK import r{round}-imp{i}");
        }
        if i % 7 == 6 {
            // A delete may be on disk without its acknowledgement: say so first.
            println!("TRY delete {id}");
            ok(
                &e,
                "DeleteFaces",
                json!({"CollectionId": "c", "FaceIds": [id]}),
            );
            println!("ACK delete {id}");
        }
    }
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    use rand::{Rng, SeedableRng};
    let seed = test_seed();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (mut acks, mut tried): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let child_test = test_name(module_path!(), "durability_child");
    for round in 0..6 {
        let round_env = round.to_string();
        // Let it run until some writes are acknowledged, then a random while more.
        let lines = run_then_kill(
            &child_test,
            &[
                (CHILD_ENV, dir.path().as_os_str()),
                ("ROLLCALL_FACES_ROUND", round_env.as_ref()),
            ],
            std::time::Duration::from_secs(30),
            std::time::Duration::from_millis(rng.random_range(5..250)),
        );
        for line in lines {
            if let Some(a) = line.strip_prefix("ACK ") {
                acks.push(a.to_string());
            } else if let Some(t) = line.strip_prefix("TRY ") {
                tried.push(t.to_string());
            }
        }

        let e = Engine::open(dir.path()).unwrap();
        let faces: std::collections::HashSet<String> = live_face_ids(&e).into_iter().collect();
        let users: std::collections::HashSet<String> = all_user_ids(&e, 500).into_iter().collect();
        let mut deleted: std::collections::HashSet<String> = tried
            .iter()
            .filter_map(|t| t.strip_prefix("delete ").map(str::to_string))
            .collect();
        for a in acks.iter().rev() {
            let parts: Vec<&str> = a.split(' ').collect();
            match parts[..] {
                ["delete", id] => {
                    deleted.insert(id.to_string());
                    assert!(
                        !faces.contains(id),
                        "round {round}: deleted face {id} is back (seed {seed})"
                    );
                }
                ["face", id] if !deleted.contains(id) => assert!(
                    faces.contains(id),
                    "round {round}: face {id} lost (seed {seed})"
                ),
                ["user", u] => assert!(
                    users.contains(u),
                    "round {round}: user {u} lost (seed {seed})"
                ),
                ["assoc", u, id] if !deleted.contains(id) => {
                    let r = ok(
                        &e,
                        "ListFaces",
                        json!({"CollectionId": "c", "FaceIds": [id]}),
                    );
                    // Say which case it is: the face itself missing, or
                    // present without (or with another) owner.
                    assert!(
                        faces.contains(id),
                        "round {round}: face {id} of an acknowledged association lost (seed {seed})"
                    );
                    assert_eq!(
                        r["Faces"][0]["UserId"], u,
                        "round {round}: association of face {id} lost; face listed as {} (seed {seed})",
                        r["Faces"][0]
                    );
                }
                _ => {}
            }
        }
        // Imports are all or nothing, and acknowledged ones are whole.
        let mut per_import: HashMap<String, usize> = HashMap::new();
        for f in &all_faces(&e) {
            if let Some((prefix, _)) = f
                .get("ExternalImageId")
                .and_then(|x| x.as_str())
                .and_then(|x| x.rsplit_once('-'))
                && prefix.contains("-imp")
            {
                *per_import.entry(prefix.to_string()).or_default() += 1;
            }
        }
        assert!(
            per_import.values().all(|&n| n == 40),
            "half an import: {per_import:?} (seed {seed})"
        );
        for a in &acks {
            if let Some(name) = a.strip_prefix("import ") {
                assert_eq!(
                    per_import.get(name),
                    Some(&40),
                    "import {name} lost (seed {seed})"
                );
            }
        }
    }
    assert!(acks.len() > 6);
}

// ---------------------------------------------------------------------------
// Compact codes: the same answers as full precision, byte for byte.

/// 4,000 faces in tight clusters with exact duplicates, 40 users; then
/// searches of every kind with random thresholds and page sizes, each run
/// by an engine holding compact codes and one holding full-precision rows
/// over the same data directory: the JSON responses must be identical.
/// The compact engine reads its full-precision rows from the snapshot
/// file; the searches run again once faces were indexed after it (rows in
/// memory after the file's), once a third of the faces were deleted
/// (compaction drops rows of the file and of memory), and once the compact
/// engine wrote a new snapshot from those rows (and reads from it).
#[test]
fn compact_codes_and_full_precision_give_identical_responses() {
    let dir = tempfile::tempdir().unwrap();
    let (dim, n, users) = (24, 4_000, 40);
    let full = Engine::open(dir.path())
        .unwrap()
        .with_face_codes(FaceCodes::Full);
    let compact = Engine::open(dir.path())
        .unwrap()
        .with_face_codes(FaceCodes::Compact);
    full.create_collection_with_dim("c", dim).unwrap();
    let centres = random_vectors(20, dim, 7, None);
    let mut data = Vec::with_capacity(n * dim);
    for i in 0..n {
        let centre = &centres[(i % 20) * dim..(i % 20 + 1) * dim];
        if i % 5 == 0 {
            data.extend_from_slice(centre); // exact duplicates of the centre
        } else {
            data.extend(random_vectors(1, dim, i as u64, Some((centre, 0.01))));
        }
    }
    let ids = full.import_faces("c", data.clone(), dim, None).unwrap();
    for u in 0..users {
        let name = format!("user-{u:02}");
        ok(
            &full,
            "CreateUser",
            json!({"CollectionId": "c", "UserId": name}),
        );
        let faces: Vec<&String> = ids.iter().skip(u).step_by(users).take(20).collect();
        ok(
            &full,
            "AssociateFaces",
            json!({"CollectionId": "c", "UserId": name, "FaceIds": faces, "UserMatchThreshold": 0}),
        );
    }
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |m: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % m as u64) as usize
    };
    let mut check = |data: &[f32], ids: &[String], rounds: u64| {
        for i in 0..rounds {
            let threshold = [0.0, 50.0, 80.0, 95.0, 99.0][next(5)];
            let max = [1, 3, 10, 100, 4096][next(5)];
            let row = next(ids.len());
            let probe = random_vectors(1, dim, 1_000 + i, Some((&data[row * dim..][..dim], 0.005)));
            let (op, body) = match i % 4 {
                0 => (
                    "SearchFaces",
                    json!({"CollectionId": "c", "FaceId": ids[row], "MaxFaces": max, "FaceMatchThreshold": threshold}),
                ),
                1 => (
                    "SearchFacesByImage",
                    json!({"CollectionId": "c", "Image": image(1, dim, &probe), "MaxFaces": max, "FaceMatchThreshold": threshold}),
                ),
                2 => (
                    "SearchUsers",
                    json!({"CollectionId": "c", "UserId": format!("user-{:02}", next(users)), "MaxUsers": max.min(500), "UserMatchThreshold": threshold}),
                ),
                _ => (
                    "SearchUsersByImage",
                    json!({"CollectionId": "c", "Image": image(1, dim, &probe), "MaxUsers": max.min(500), "UserMatchThreshold": threshold}),
                ),
            };
            let a = ok(&compact, op, body.clone()).to_string();
            let b = ok(&full, op, body.clone()).to_string();
            assert_eq!(a, b, "{op} {body}");
        }
    };
    let (mut data, mut ids) = (data, ids);
    check(&data, &ids, 200);
    // Faces indexed after the snapshot: held in memory after the file's.
    for i in 0..50 {
        let v = random_vectors(
            1,
            dim,
            50_000 + i,
            Some((&data[i as usize * dim..][..dim], 0.003)),
        );
        ids.push(compact.index_face("c", &v, None).unwrap());
        data.extend(v);
    }
    check(&data, &ids, 100);
    // A third deleted, file rows and memory rows alike: compaction.
    let gone: Vec<bool> = (0..ids.len()).map(|r| r % 3 == 1).collect();
    let doomed: Vec<&String> = ids
        .iter()
        .zip(&gone)
        .filter(|&(_, &g)| g)
        .map(|(id, _)| id)
        .collect();
    for part in doomed.chunks(1000) {
        ok(
            &compact,
            "DeleteFaces",
            json!({"CollectionId": "c", "FaceIds": part}),
        );
    }
    let keep = |r: &usize| !gone[*r];
    data = (0..ids.len())
        .filter(keep)
        .flat_map(|r| data[r * dim..(r + 1) * dim].to_vec())
        .collect();
    ids = (0..ids.len())
        .filter(keep)
        .map(|r| ids[r].clone())
        .collect();
    check(&data, &ids, 100);
    // A snapshot written by the compact engine from its file and memory
    // rows; the full engine loads it.
    compact.checkpoint("c").unwrap();
    check(&data, &ids, 100);
}

/// A streamed import is an import: the same faces in the same order give
/// the same answers as one `import_faces` call (beside faces and users
/// there already), other engines on the directory and a reopened one see
/// them, and a bad stream (a bad vector, a chunk of another width, too
/// few or too many faces) is an `InvalidParameterException` that adds
/// nothing and leaves no file behind.
#[test]
fn streamed_import_is_an_import() {
    let dim = 8;
    let first = random_vectors(100, dim, 1, None);
    let more = random_vectors(300, dim, 2, None);
    for codes in [FaceCodes::Compact, FaceCodes::Full] {
        let (streamed_dir, plain_dir) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let streamed = Engine::open(streamed_dir.path())
            .unwrap()
            .with_face_codes(codes);
        let plain = Engine::open(plain_dir.path())
            .unwrap()
            .with_face_codes(codes);
        let mut all_ids = Vec::new();
        for e in [&streamed, &plain] {
            e.create_collection_with_dim("c", dim).unwrap();
            let ids = e.import_faces("c", first.clone(), dim, None).unwrap();
            ok(e, "CreateUser", json!({"CollectionId": "c", "UserId": "u"}));
            ok(
                e,
                "AssociateFaces",
                json!({"CollectionId": "c", "UserId": "u", "FaceIds": &ids[..5], "UserMatchThreshold": 0}),
            );
            all_ids.push(ids);
        }
        // Another engine on the directory, loaded before the import.
        let other = Engine::open(streamed_dir.path())
            .unwrap()
            .with_face_codes(codes);
        assert_eq!(
            other
                .search_vector("c", &first[..dim], 1, 0.0)
                .unwrap()
                .len(),
            1
        );

        let mut chunks = more.chunks(64 * dim).map(<[f32]>::to_vec);
        let exts: Vec<String> = (0..300).map(|i| format!("photo-{i}")).collect();
        let new = streamed
            .import_faces_streamed("c", dim, 300, Some(exts.clone()), || Ok(chunks.next()))
            .unwrap();
        all_ids[0].extend(new);
        all_ids[1].extend(
            plain
                .import_faces("c", more.clone(), dim, Some(exts))
                .unwrap(),
        );
        let reopened = Engine::open(streamed_dir.path())
            .unwrap()
            .with_face_codes(codes);
        let position = |ids: &[String], id: &str| ids.iter().position(|x| x == id);
        // An answer as rows of the import (face ids differ between engines).
        let ranked = |e: &Engine, ids: &[String], probe: &[f32]| -> Vec<_> {
            e.search_vector("c", probe, 50, 0.0)
                .unwrap()
                .iter()
                .map(|m| (position(ids, &m.face.face_id), m.similarity))
                .collect()
        };
        for (p, probe) in more
            .chunks(dim)
            .take(20)
            .chain(first.chunks(dim).take(5))
            .enumerate()
        {
            let want = ranked(&plain, &all_ids[1], probe);
            for e in [&streamed, &other, &reopened] {
                assert_eq!(ranked(e, &all_ids[0], probe), want, "{codes:?}: probe {p}");
            }
        }
        let exts_of = |e: &Engine, ids: &[String]| {
            let listed = ok(
                e,
                "ListFaces",
                json!({"CollectionId": "c", "MaxResults": 4096}),
            );
            let mut v: Vec<_> = listed["Faces"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        position(ids, f["FaceId"].as_str().unwrap()),
                        f["ExternalImageId"].clone(),
                    )
                })
                .collect();
            v.sort_by_key(|x| x.0);
            v
        };
        assert_eq!(
            exts_of(&reopened, &all_ids[0]),
            exts_of(&plain, &all_ids[1])
        );
        let users = |e: &Engine| {
            let mut v = ok(
                e,
                "SearchUsers",
                json!({"CollectionId": "c", "UserId": "u"}),
            );
            v.as_object_mut().map(|o| o.remove("FaceModelVersion"));
            v
        };
        assert_eq!(users(&reopened), users(&plain));
        let count = |e: &Engine| {
            ok(e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceCount"].clone()
        };
        assert_eq!(count(&reopened), json!(400));

        // Bad streams add nothing.
        let mut bad_vector = more[..10 * dim].to_vec();
        bad_vector[3 * dim + 1] = f32::NAN;
        let bad: [(Vec<Vec<f32>>, usize, &str); 4] = [
            (vec![more[..dim].to_vec(), bad_vector], 11, "finite"),
            (vec![more[..dim + 3].to_vec()], 1, "rows of length 8"),
            (vec![more[..2 * dim].to_vec()], 3, "gave 2 faces, not the 3"),
            (
                vec![more[..2 * dim].to_vec(), more[..2 * dim].to_vec()],
                3,
                "more than the 3",
            ),
        ];
        for (stream, rows, needle) in bad {
            let mut chunks = stream.into_iter();
            let err = streamed
                .import_faces_streamed("c", dim, rows, None, || Ok(chunks.next()))
                .unwrap_err();
            assert_eq!(
                err.error_type(),
                ErrorType::InvalidParameterException,
                "{err}"
            );
            assert!(err.to_string().contains(needle), "{err} lacks {needle}");
            assert_eq!(count(&streamed), json!(400));
        }
        let err = streamed
            .import_faces_streamed("c", 4, 1, None, || Ok(None))
            .unwrap_err();
        assert_eq!(
            err.error_type(),
            ErrorType::InvalidParameterException,
            "{err}"
        );
        // An error of the stream's own comes back as it is.
        let mut first = Some(more[..dim].to_vec());
        let err = streamed
            .import_faces_streamed("c", dim, 2, None, || match first.take() {
                Some(v) => Ok(Some(v)),
                None => Err(Error::InvalidImage("the file ended early".into())),
            })
            .unwrap_err();
        assert_eq!(
            err.error_type(),
            ErrorType::InvalidImageFormatException,
            "{err}"
        );
        assert_eq!(count(&streamed), json!(400));
        let err = streamed
            .import_faces_streamed("c", dim, 1, Some(vec![]), || Ok(None))
            .unwrap_err();
        assert!(err.to_string().contains("0 external ids for 1"), "{err}");
        let files: Vec<_> = std::fs::read_dir(streamed_dir.path().join("rekognition"))
            .unwrap()
            .flatten()
            .filter(|d| d.path().is_dir())
            .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
            .map(|f| f.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!files.iter().any(|f| f.contains("tmp")), "{files:?}");
        let reopened = Engine::open(streamed_dir.path())
            .unwrap()
            .with_face_codes(codes);
        assert_eq!(count(&reopened), json!(400));
    }
}
