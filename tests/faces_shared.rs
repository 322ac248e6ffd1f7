//! Black-box tests of sharing a faces data directory: many threads on one
//! [`Engine`], and several engines on one directory, as a `rollcall serve`
//! and CLI commands run beside it would be (two engines in one process
//! hold separate file locks, exactly as two processes do).

use std::collections::BTreeSet;
use std::sync::Arc;

use rollcall::faces::*;
use rollcall::ErrorType;
use serde_json::json;

use crate::util::faces as faces_common;
use faces_common::{all_user_ids, ok};

fn user_ids(e: &Engine) -> BTreeSet<String> {
    all_user_ids(e, 500).into_iter().collect()
}

fn face_count(e: &Engine) -> u64 {
    ok(e, "DescribeCollection", json!({"CollectionId": "c"}))["FaceCount"]
        .as_u64()
        .unwrap()
}

#[test]
fn engine_is_shared_between_threads() {
    fn assert_sync<T: Send + Sync>() {}
    assert_sync::<Engine>();
}

#[test]
fn searches_and_writes_from_many_threads_agree_with_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let e = Arc::new(Engine::open(dir.path()).unwrap());
    e.create_collection_with_dim("c", 16).unwrap();
    e.import_faces("c", random_vectors(2_000, 16, 1, None), 16, None)
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let e = Arc::clone(&e);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..40u64 {
                    let v = random_vectors(1, 16, 1_000 + t * 100 + i, None);
                    if i % 4 == 0 {
                        let face = e.index_face("c", &v, None).unwrap();
                        let user = format!("t{t}-u{i}");
                        ok(
                            &e,
                            "CreateUser",
                            json!({"CollectionId": "c", "UserId": user}),
                        );
                        let r = ok(
                            &e,
                            "AssociateFaces",
                            json!({"CollectionId": "c", "UserId": user, "FaceIds": [face]}),
                        );
                        assert_eq!(r["AssociatedFaces"].as_array().unwrap().len(), 1);
                        mine.push((user, face));
                    } else {
                        // A face searched for itself finds itself first.
                        let hits = e.search_vector("c", &v, 3, 0.0).unwrap();
                        assert_eq!(hits.len(), 3);
                        assert!(hits[0].similarity >= hits[1].similarity);
                    }
                }
                mine
            })
        })
        .collect();
    let mine: Vec<(String, String)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(face_count(&e), 2_000 + 80);
    let users = user_ids(&e);
    for (user, face) in &mine {
        assert!(users.contains(user), "{user} lost");
        let r = ok(
            &e,
            "ListFaces",
            json!({"CollectionId": "c", "FaceIds": [face]}),
        );
        assert_eq!(r["Faces"][0]["UserId"], json!(user));
    }
    // And all of it is on disk.
    drop(e);
    let again = Engine::open(dir.path()).unwrap();
    assert_eq!(face_count(&again), 2_080);
    assert_eq!(user_ids(&again), users);
}

#[test]
fn a_second_engine_sees_appends_snapshots_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let server = Engine::open(dir.path()).unwrap();
    let cli = Engine::open(dir.path()).unwrap();
    server.create_collection_with_dim("c", 4).unwrap();
    // The other engine created nothing, yet it sees the collection.
    assert_eq!(face_count(&cli), 0);

    // Appends by one are replayed by the other on its next call.
    let face = server.index_face("c", &[1.0, 0.0, 0.0, 0.0], None).unwrap();
    ok(
        &server,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "u"}),
    );
    assert_eq!(face_count(&cli), 1);
    let r = ok(
        &cli,
        "AssociateFaces",
        json!({"CollectionId": "c", "UserId": "u", "FaceIds": [face]}),
    );
    assert_eq!(r["AssociatedFaces"][0]["FaceId"], json!(face));
    let hits = server
        .search_users_by_vector("c", &[1.0, 0.0, 0.0, 0.0], 5, 50.0)
        .unwrap();
    assert_eq!(hits[0].user.user_id, "u");

    // A bulk import writes a snapshot: the other engine loads it.
    cli.import_faces("c", random_vectors(300, 4, 7, None), 4, None)
        .unwrap();
    assert_eq!(face_count(&server), 301);
    // A checkpoint empties the log; appends after it are still seen.
    server.checkpoint("c").unwrap();
    ok(
        &server,
        "CreateUser",
        json!({"CollectionId": "c", "UserId": "w"}),
    );
    assert_eq!(
        user_ids(&cli),
        ["u", "w"].iter().map(|s| s.to_string()).collect()
    );

    // Deleted by one: gone for the other, and creatable again.
    ok(&cli, "DeleteCollection", json!({"CollectionId": "c"}));
    let err = server
        .call("DescribeCollection", r#"{"CollectionId": "c"}"#)
        .unwrap_err();
    assert_eq!(err.error_type(), ErrorType::ResourceNotFoundException);
    cli.create_collection_with_dim("c", 4).unwrap();
    assert_eq!(face_count(&server), 0);
    let err = server.create_collection_with_dim("c", 4).unwrap_err();
    assert_eq!(err.error_type(), ErrorType::ResourceAlreadyExistsException);
}

#[test]
fn two_engines_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    Engine::open(dir.path())
        .unwrap()
        .create_collection_with_dim("c", 8)
        .unwrap();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let e = Engine::open(&path).unwrap();
                for i in 0..60u64 {
                    ok(
                        &e,
                        "CreateUser",
                        json!({"CollectionId": "c", "UserId": format!("w{w}-{i}")}),
                    );
                    e.index_face("c", &random_vectors(1, 8, w * 1_000 + i, None), None)
                        .unwrap();
                    if i % 25 == 24 {
                        e.checkpoint("c").unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let e = Engine::open(dir.path()).unwrap();
    assert_eq!(user_ids(&e).len(), 120);
    assert_eq!(face_count(&e), 120);
}

#[test]
fn the_same_idempotency_token_from_two_engines_changes_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = Engine::open(dir.path()).unwrap();
    let b = Engine::open(dir.path()).unwrap();
    a.create_collection_with_dim("c", 2).unwrap();
    let body = json!({"CollectionId": "c", "UserId": "u", "ClientRequestToken": "tok-1"});
    ok(&a, "CreateUser", body.clone());
    // The second engine replays the first's answer instead of a
    // ConflictException: the token was logged with the change.
    ok(&b, "CreateUser", body);
    assert_eq!(user_ids(&b).len(), 1);
}

#[test]
fn collections_made_and_removed_while_other_engines_open_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    Engine::open(&path)
        .unwrap()
        .create_collection_with_dim("keep", 4)
        .unwrap();
    let churn = {
        let path = path.clone();
        std::thread::spawn(move || {
            let e = Engine::open(&path).unwrap();
            for i in 0..60 {
                let id = format!("tmp-{}", i % 3);
                ok(&e, "CreateCollection", json!({"CollectionId": id}));
                e.index_face(&id, &[1.0, 0.0, 0.0, 0.0], None).unwrap();
                ok(&e, "DeleteCollection", json!({"CollectionId": id}));
            }
        })
    };
    // Each open cleans up what crashes left behind; none of it may touch a
    // collection that the other engine is making or removing right now.
    for _ in 0..60 {
        let e = Engine::open(&path).unwrap();
        let r = ok(&e, "ListCollections", json!({}));
        let ids = r["CollectionIds"].as_array().unwrap();
        assert!(ids.contains(&json!("keep")), "{r}");
        assert_eq!(ids.len(), r["FaceModelVersions"].as_array().unwrap().len());
    }
    churn.join().unwrap();
    let e = Engine::open(&path).unwrap();
    assert_eq!(
        ok(&e, "ListCollections", json!({}))["CollectionIds"],
        json!(["keep"])
    );
    // Nothing half-made is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(path.join("rekognition"))
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-") || n.starts_with(".trash-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
