//! The HTTP layer of `rollcall serve`, without Python: routing of both
//! protocols, error mapping (codes, statuses, headers), body limits,
//! malformed input that must never crash the server, SigV4 modes,
//! freshness after an import by another process, and graceful shutdown.

mod serve_common;

use serve_common::{seed_connect, Server};

fn json_headers() -> [(&'static str, &'static str); 1] {
    [("Content-Type", "application/json")]
}

#[test]
fn connect_routes_answer_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 300);
    let s = Server::start(dir.path(), &[]);
    let r = s.call(
        "POST",
        "/search-users",
        &json_headers(),
        br#"{"InstanceId":"demo","MaxResults":2,"SearchCriteria":{"StringCondition":{"FieldName":"Username","Value":"a","ComparisonType":"STARTS_WITH"}}}"#,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let page = r.json();
    assert_eq!(page["Users"].as_array().unwrap().len(), 2);
    assert!(page["NextToken"].is_string());
    let id = page["Users"][0]["Id"].as_str().unwrap().to_string();

    let r = s.call("GET", &format!("/users/demo/{id}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["User"]["Id"], id.as_str());

    let r = s.call(
        "GET",
        &format!("/users/demo/{id}/proficiencies?maxResults=1"),
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(r.json()["UserProficiencyList"].is_array());

    let r = s.call("GET", "/users-summary/demo?maxResults=7", &[], b"");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["UserSummaryList"].as_array().unwrap().len(), 7);
    let token = v["NextToken"].as_str().unwrap();
    let next = format!(
        "/users-summary/demo?maxResults=7&nextToken={}",
        rollcall::serve::uri_encode(token.as_bytes(), false)
    );
    let r2 = s.call("GET", &next, &[], b"");
    assert_eq!(r2.status, 200);
    assert_ne!(r2.json()["UserSummaryList"][0], v["UserSummaryList"][0]);

    let r = s.call(
        "GET",
        "/user-hierarchy-groups-summary/demo?maxResults=3",
        &[],
        b"",
    );
    assert_eq!(r.status, 200);
    let g = r.json()["UserHierarchyGroupSummaryList"][0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.call("GET", &format!("/user-hierarchy-groups/demo/{g}"), &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["HierarchyGroup"]["Id"], g.as_str());
    let r = s.call("GET", "/user-hierarchy-structure/demo", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.json()["HierarchyStructure"]["LevelOne"].is_object());

    let r = s.call("GET", "/health", &[], b"");
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));
    assert!(s.stop().success());
}

#[test]
fn connect_errors_follow_the_model() {
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 50);
    let s = Server::start(dir.path(), &[]);
    let cases: &[(&str, &str, &[u8], u16, &str)] = &[
        ("GET", "/users/nope/u1", b"", 404, "ResourceNotFoundException"),
        ("GET", "/users/demo/no-such-user", b"", 404, "ResourceNotFoundException"),
        ("GET", "/user-hierarchy-groups/demo/none", b"", 404, "ResourceNotFoundException"),
        ("GET", "/users-summary/demo?maxResults=0", b"", 400, "InvalidParameterException"),
        ("GET", "/users-summary/demo?maxResults=1001", b"", 400, "InvalidParameterException"),
        ("GET", "/users-summary/demo?nextToken=garbage", b"", 400, "InvalidParameterException"),
        ("GET", "/user-hierarchy-groups-summary/demo?nextToken=g.zz", b"", 400, "InvalidParameterException"),
        ("POST", "/search-users", b"{\"InstanceId\": ", 400, "SerializationException"),
        ("POST", "/search-users", b"[1, 2]", 400, "SerializationException"),
        ("POST", "/search-users", b"{\"InstanceId\": \"demo\", \"MaxResults\": 0}", 400, "InvalidParameterException"),
        ("POST", "/search-users", b"{\"InstanceId\": \"demo\", \"SearchCriteria\": {\"OrConditions\": []}}", 400, "InvalidParameterException"),
        ("POST", "/search-users", b"{\"InstanceId\":\"demo\",\"SearchFilter\":{\"TagFilter\":{\"TagCondition\":{\"TagKey\":\"a\"}},\"UserAttributeFilter\":{\"TagCondition\":{\"TagKey\":\"a\"}}}}", 400, "InvalidRequestException"),
        ("POST", "/search-users", b"{}", 400, "InvalidParameterException"),
        ("POST", "/search-users", b"\xff\xfe{}", 400, "SerializationException"),
        ("GET", "/no/such/thing", b"", 404, "UnknownOperationException"),
        ("GET", "/search-users", b"", 405, "UnknownOperationException"),
        ("DELETE", "/users/demo/x", b"", 405, "UnknownOperationException"),
        ("GET", "/users/%ZZ/%", b"", 404, "ResourceNotFoundException"),
    ];
    let mut conn = s.conn();
    for (method, path, body, status, code) in cases {
        let r = conn.request(method, path, &json_headers(), body).unwrap();
        assert_eq!(
            r.status,
            *status,
            "{method} {path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("x-amzn-errortype"), Some(*code), "{method} {path}");
        let v = r.json();
        assert!(
            v["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{method} {path}: {v}"
        );
    }
    assert!(s.stop().success());
}

/// Follows `NextToken` from `first` to the end; returns the items of
/// `list` on every page, in order.
fn all_pages(s: &Server, first: &str, list: &str) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut path = first.to_string();
    for _ in 0..1000 {
        let r = s.call("GET", &path, &[], b"");
        assert_eq!(
            r.status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        items.extend(v[list].as_array().expect("a list").iter().cloned());
        match v["NextToken"].as_str() {
            Some(t) => {
                path = format!(
                    "{first}&nextToken={}",
                    rollcall::serve::uri_encode(t.as_bytes(), false)
                )
            }
            None => return items,
        }
    }
    panic!("{first}: more than 1000 pages");
}

#[test]
fn list_tokens_are_only_those_the_server_issued() {
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 20);
    let profs: Vec<serde_json::Value> = (1..=5)
        .map(|n| serde_json::json!({"AttributeName": "Skill", "AttributeValue": format!("s{n}"), "Level": n}))
        .collect();
    let lines = format!(
        "{}\n{}\n",
        serde_json::json!({"Id": "p-1", "Username": "prof.one", "Proficiencies": profs}),
        serde_json::json!({"Id": "p-2", "Username": "prof.two", "Proficiencies": profs}),
    );
    rollcall::directory::Engine::open(dir.path())
        .unwrap()
        .import("demo", lines.as_bytes(), None)
        .unwrap();
    let s = Server::start(dir.path(), &[]);

    // Tokens of the old, guessable format were never issued by this server.
    for path in [
        "/users/demo/p-1/proficiencies?nextToken=p.1",
        "/users/demo/p-1/proficiencies?nextToken=p.18446744073709551615",
        "/user-hierarchy-groups-summary/demo?nextToken=g.41",
    ] {
        let r = s.call("GET", path, &[], b"");
        assert_eq!(
            r.status,
            400,
            "{path}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.error_type(), "InvalidParameterException", "{path}");
        let message = r.json()["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("nextToken"), "{path}: {message}");
    }

    // Real tokens page through everything, each item once.
    let first = "/users/demo/p-1/proficiencies?maxResults=2";
    let values: Vec<String> = all_pages(&s, first, "UserProficiencyList")
        .iter()
        .map(|p| p["AttributeValue"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(values, ["s1", "s2", "s3", "s4", "s5"]);
    let one = s.call("GET", first, &[], b"").json();
    let token = one["NextToken"].as_str().expect("a token").to_string();
    let token = rollcall::serve::uri_encode(token.as_bytes(), false);
    // ...for the user it was issued for only.
    let r = s.call(
        "GET",
        &format!("/users/demo/p-2/proficiencies?maxResults=2&nextToken={token}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.error_type(), "InvalidParameterException");
    // ...and for the operation.
    let r = s.call(
        "GET",
        &format!("/user-hierarchy-groups-summary/demo?nextToken={token}"),
        &[],
        b"",
    );
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));

    let everything: Vec<serde_json::Value> = s
        .call(
            "GET",
            "/user-hierarchy-groups-summary/demo?maxResults=1000",
            &[],
            b"",
        )
        .json()["UserHierarchyGroupSummaryList"]
        .as_array()
        .unwrap()
        .clone();
    assert!(everything.len() > 3);
    let paged = all_pages(
        &s,
        "/user-hierarchy-groups-summary/demo?maxResults=3",
        "UserHierarchyGroupSummaryList",
    );
    assert_eq!(paged, everything);
    assert!(s.stop().success());
}

#[test]
fn rekognition_dispatch_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let r = s.rekognition("CreateCollection", r#"{"CollectionId": "c1"}"#);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    let v = rollcall::faces::random_vectors(2, 4, 1, None);
    let npy = rollcall::faces::npy_bytes(2, 4, &v);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&npy);
    let r = s.rekognition(
        "IndexFaces",
        &format!(r#"{{"CollectionId": "c1", "Image": {{"Bytes": "{b64}"}}}}"#),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["FaceRecords"].as_array().unwrap().len(), 2);
    let r = s.rekognition("DescribeCollection", r#"{"CollectionId": "c1"}"#);
    assert_eq!(r.json()["FaceCount"], 2);
    assert!(r.json()["CreationTimestamp"].is_number());

    let cases: &[(Option<&str>, &[u8], u16, &str)] = &[
        (None, b"{}", 400, "UnknownOperationException"),
        (
            Some("RekognitionService.DetectFaces"),
            b"{}",
            400,
            "UnknownOperationException",
        ),
        (
            Some("Other.ListCollections"),
            b"{}",
            400,
            "UnknownOperationException",
        ),
        (
            Some("RekognitionService.ListCollections"),
            b"{not json",
            400,
            "SerializationException",
        ),
        (
            Some("RekognitionService.ListCollections"),
            b"\xff",
            400,
            "SerializationException",
        ),
        (
            Some("RekognitionService.DescribeCollection"),
            br#"{"CollectionId": "none"}"#,
            400,
            "ResourceNotFoundException",
        ),
        (
            Some("RekognitionService.CreateCollection"),
            br#"{"CollectionId": "c1"}"#,
            400,
            "ResourceAlreadyExistsException",
        ),
        (
            Some("RekognitionService.IndexFaces"),
            br#"{"CollectionId": "c1", "Image": {"Bytes": "bm90IG5weQ=="}}"#,
            400,
            "InvalidImageFormatException",
        ),
        (
            Some("RekognitionService.SearchUsers"),
            br#"{"CollectionId": "c1"}"#,
            400,
            "InvalidParameterException",
        ),
        (
            Some("RekognitionService.ListFaces"),
            br#"{"CollectionId": "c1", "NextToken": "garbage"}"#,
            400,
            "InvalidPaginationTokenException",
        ),
        (
            Some("RekognitionService.CreateCollection"),
            b"{\"CollectionId\": 5}",
            400,
            "SerializationException",
        ),
    ];
    let mut conn = s.conn();
    for (target, body, status, code) in cases {
        let mut headers = vec![("Content-Type", "application/x-amz-json-1.1")];
        if let Some(t) = target {
            headers.push(("X-Amz-Target", t));
        }
        let r = conn.request("POST", "/", &headers, body).unwrap();
        assert_eq!(
            r.status,
            *status,
            "{target:?}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert_eq!(v["__type"], *code, "{target:?}: {v}");
        assert!(v["Message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let r = s.call("GET", "/", &[], b"");
    assert_eq!(r.status, 405);
    assert!(s.stop().success());
}

#[test]
fn bodies_above_the_limit_get_413_and_the_server_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let big = vec![b'a'; rollcall::serve::MAX_BODY_BYTES + 1];
    for (path, headers) in [
        (
            "/",
            vec![("X-Amz-Target", "RekognitionService.ListCollections")],
        ),
        ("/search-users", vec![]),
    ] {
        let r = s.call("POST", path, &headers, &big);
        assert_eq!(r.status, 413, "{path}");
        assert_eq!(r.error_type(), "RequestEntityTooLargeException");
        assert!(String::from_utf8_lossy(&r.body).contains("limit"));
    }
    // Just under the limit is read (and then judged by the operation).
    let mut body = br#"{"CollectionId": "c", "Image": {"Bytes": ""#.to_vec();
    body.extend(std::iter::repeat_n(
        b'A',
        rollcall::serve::MAX_BODY_BYTES - body.len() - 10,
    ));
    body.extend_from_slice(br#""}}"#);
    let r = s.rekognition("SearchFacesByImage", std::str::from_utf8(&body).unwrap());
    assert_eq!(r.status, 400);
    assert_ne!(r.error_type(), "RequestEntityTooLargeException");
    assert_eq!(s.call("GET", "/health", &[], b"").status, 200);
    assert!(s.stop().success());
}

#[test]
fn malformed_requests_never_crash_the_server() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let garbage: &[&[u8]] = &[
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET /users/\xff\xfe/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nX-Amz-Target: \xff\xff\r\nContent-Length: 2\r\n\r\n{}",
        b"POST / HTTP/1.1\r\nHost: a\r\nAuthorization: AWS4-HMAC-SHA256 Credential=\xff\r\nContent-Length: 2\r\n\r\n{}",
    ];
    for g in garbage {
        let mut t = std::net::TcpStream::connect(s.addr).unwrap();
        t.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok();
        t.write_all(g).unwrap();
        let mut out = Vec::new();
        let _ = t.read_to_end(&mut out);
    }
    let auth_cases = [
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/rekognition/aws4_request, SignedHeaders=, Signature=00",
    ];
    for a in auth_cases {
        let r = s.call(
            "POST",
            "/",
            &[
                ("X-Amz-Target", "RekognitionService.ListCollections"),
                ("Authorization", a),
            ],
            b"{}",
        );
        assert_eq!(r.status, 403, "{a}");
        assert_eq!(r.error_type(), "IncompleteSignatureException", "{a}");
    }
    // In the default (loopback) mode a well-formed signature is accepted.
    let r = s.call(
        "POST",
        "/",
        &[
            ("X-Amz-Target", "RekognitionService.ListCollections"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/rekognition/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd"),
        ],
        b"{}",
    );
    assert_eq!(r.status, 200);
    assert_eq!(s.call("GET", "/health", &[], b"").status, 200);
    assert!(s.stop().success());
}

fn signed_headers(
    addr: std::net::SocketAddr,
    path: &str,
    body: &[u8],
    key: &str,
    secret: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    use rollcall::serve::{signature, Authorization, SignedRequest};
    let host = addr.to_string();
    let mut h = axum::http::HeaderMap::new();
    h.insert("host", host.parse().unwrap());
    h.insert("x-amz-date", amz_date.parse().unwrap());
    h.insert(
        "x-amz-target",
        "RekognitionService.ListCollections".parse().unwrap(),
    );
    let date = &amz_date[..8];
    let mut auth = Authorization::parse(&format!(
        "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/rekognition/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00"
    ))
    .unwrap();
    let req = SignedRequest {
        method: "POST",
        path,
        query: "",
        headers: &h,
        body,
    };
    auth.signature = signature(&req, &auth, amz_date, secret);
    vec![
        ("X-Amz-Date".into(), amz_date.into()),
        ("X-Amz-Target".into(), "RekognitionService.ListCollections".into()),
        (
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/rekognition/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature={}",
                auth.signature
            ),
        ),
    ]
}

fn amz_now(offset_secs: i64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + offset_secs;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // civil_from_days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn credentials_mode_verifies_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "AKTEST s3cret/key\n").unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--credentials", creds.to_str().unwrap()],
    );
    let send = |key: &str, secret: &str, offset: i64, body: &[u8], sent: &[u8]| {
        let h = signed_headers(s.addr, "/", body, key, secret, &amz_now(offset));
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        s.call("POST", "/", &h, sent)
    };
    let ok = send("AKTEST", "s3cret/key", 0, b"{}", b"{}");
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    let r = send("AKTEST", "wrong", 0, b"{}", b"{}");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (403, "InvalidSignatureException")
    );
    let r = send("AKOTHER", "s3cret/key", 0, b"{}", b"{}");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (403, "UnrecognizedClientException")
    );
    let r = send("AKTEST", "s3cret/key", 0, b"{}", b"{ }");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (403, "InvalidSignatureException")
    );
    let r = send("AKTEST", "s3cret/key", -16 * 60, b"{}", b"{}");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (403, "InvalidSignatureException")
    );
    assert!(String::from_utf8_lossy(&r.body).contains("15 minutes"));
    let r = send("AKTEST", "s3cret/key", 14 * 60, b"{}", b"{}");
    assert_eq!(r.status, 200);
    let r = s.rekognition("ListCollections", "{}");
    assert_eq!(
        (r.status, r.error_type().as_str()),
        (403, "MissingAuthenticationTokenException")
    );
    // /health needs no signature.
    assert_eq!(s.call("GET", "/health", &[], b"").status, 200);
    assert!(s.stop().success());
}

#[test]
fn non_loopback_without_credentials_is_refused() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args([
            "serve",
            "--data",
            "/nonexistent-unused",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--credentials") && err.contains("non-loopback"),
        "{err}"
    );
}

#[test]
fn an_import_by_another_process_becomes_visible_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let r = s.call("GET", "/users/late/u1", &[], b"");
    assert_eq!(r.status, 404);
    let engine = rollcall::directory::Engine::open(dir.path()).unwrap();
    engine
        .import("late", &br#"{"Id":"u1","Username":"first"}"#[..], None)
        .unwrap();
    let r = s.call("GET", "/users/late/u1", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["User"]["Username"], "first");
    // A second import into the existing instance (and new groups) too.
    let group = rollcall::records::HierarchyGroup {
        id: "g1".into(),
        arn: None,
        name: Some("G".into()),
        level_id: Some("L1".into()),
        hierarchy_path: None,
        tags: None,
        last_modified_time: Some(serde_json::json!("2024-05-01T12:00:00Z")),
        last_modified_region: None,
    };
    engine
        .import(
            "late",
            &br#"{"Id":"u2","Username":"second","HierarchyGroupId":"g1"}"#[..],
            Some(vec![group]),
        )
        .unwrap();
    let r = s.call(
        "POST",
        "/search-users",
        &[],
        br#"{"InstanceId":"late","SearchCriteria":{"HierarchyGroupCondition":{"Value":"g1"}}}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["ApproximateTotalCount"], 1);
    let r = s.call("GET", "/user-hierarchy-groups/late/g1", &[], b"");
    assert_eq!(
        r.json()["HierarchyGroup"]["LastModifiedTime"],
        1_714_564_800
    );
    assert!(s.stop().success());
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 2000);
    let s = Server::start(dir.path(), &[]);
    let addr = s.addr;
    // Requests keep going on several threads while the signal arrives;
    // each one either completes with 200 or finds the listener closed.
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut done = 0;
                for _ in 0..200 {
                    let Ok(t) = std::net::TcpStream::connect(addr) else {
                        break;
                    };
                    drop(t);
                    let mut c = serve_common::Conn::open(addr);
                    match c.request("GET", "/users-summary/demo?maxResults=1000", &[], b"") {
                        Ok(r) => {
                            assert_eq!(r.status, 200);
                            done += 1;
                        }
                        Err(_) => break,
                    }
                }
                done
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = s.stop();
    let done: i32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(status.success(), "{status:?}");
    assert!(done > 0);
}
