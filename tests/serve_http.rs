//! The HTTP layer of `rollcall serve`, without Python: routing of both
//! protocols, error mapping (codes, statuses, headers), body limits,
//! malformed input that must never crash the server, SigV4 modes,
//! freshness after an import by another process, and graceful shutdown.

use crate::util::serve as serve_common;
use crate::util::serve::query_escape;

use std::time::{Duration, Instant};

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
        query_escape(token)
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
        ("PATCH", "/users/demo/x", b"", 405, "UnknownOperationException"),
        ("DELETE", "/users/demo/x", b"", 404, "ResourceNotFoundException"),
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
            Some(t) => path = format!("{first}&nextToken={}", query_escape(t)),
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
    let token = query_escape(&token);
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
            Some("RekognitionService.DetectLabels"),
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

/// The SHA-256 of `b`, in hex.
fn sha256_hex(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The headers of a Rekognition `op` call (all but `Host`), signed with
/// [`independent_sigv4`] over `signed` and `payload_hash`, with
/// `content_sha` as `X-Amz-Content-Sha256` when given.
#[allow(clippy::too_many_arguments)]
fn signed_rekognition(
    addr: std::net::SocketAddr,
    op: &str,
    signed: &[&str],
    payload_hash: &str,
    content_sha: Option<&str>,
    service: &str,
    key: (&str, &str),
    amz_date: &str,
) -> Vec<(String, String)> {
    let host = addr.to_string();
    let target = format!("RekognitionService.{op}");
    let mut headers = vec![
        ("host", host.as_str()),
        ("x-amz-date", amz_date),
        ("x-amz-target", target.as_str()),
    ];
    if let Some(c) = content_sha {
        headers.push(("x-amz-content-sha256", c));
    }
    let auth = independent_sigv4(
        "POST",
        "/",
        &headers,
        signed,
        payload_hash,
        service,
        key,
        amz_date,
    );
    let mut out: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| *k != "host")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.push(("authorization".into(), auth));
    out
}

/// A `ListCollections` signed as an SDK signs it, over `body`.
fn signed_headers(
    addr: std::net::SocketAddr,
    body: &[u8],
    key: &str,
    secret: &str,
    amz_date: &str,
) -> Vec<(String, String)> {
    signed_rekognition(
        addr,
        "ListCollections",
        &["host", "x-amz-date", "x-amz-target"],
        &sha256_hex(body),
        None,
        "rekognition",
        (key, secret),
        amz_date,
    )
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
        let h = signed_headers(s.addr, body, key, secret, &amz_now(offset));
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

/// SigV4 computed independently of the server's code, with the payload
/// hash chosen by the caller (as an SDK set to `UNSIGNED-PAYLOAD` would).
/// `headers` are lowercase `(name, value)`, `host` included, each signed
/// when listed in `signed`. Returns the `Authorization` value.
#[allow(clippy::too_many_arguments)]
fn independent_sigv4(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    signed: &[&str],
    payload_hash: &str,
    service: &str,
    (key, secret): (&str, &str),
    amz_date: &str,
) -> String {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let mac = |k: &[u8], d: &str| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap();
        m.update(d.as_bytes());
        m.finalize().into_bytes().to_vec()
    };
    let canonical_headers: String = signed
        .iter()
        .map(|n| {
            let v = headers.iter().find(|(k, _)| k == n).map_or("", |(_, v)| *v);
            format!("{n}:{}\n", v.trim())
        })
        .collect();
    let signed_list = signed.join(";");
    let canonical =
        format!("{method}\n{path}\n\n{canonical_headers}\n{signed_list}\n{payload_hash}");
    let date = &amz_date[..8];
    let scope = format!("{date}/us-east-1/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = mac(format!("AWS4{secret}").as_bytes(), date);
    let k = mac(&k, "us-east-1");
    let k = mac(&k, service);
    let k = mac(&k, "aws4_request");
    format!(
        "AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={signed_list}, Signature={}",
        hex(&mac(&k, &to_sign))
    )
}

/// Under `--credentials` a signature covers the body received (never
/// `UNSIGNED-PAYLOAD`), the Rekognition operation (`X-Amz-Target` must be
/// signed) and the service it was scoped to.
#[test]
fn signatures_cover_the_body_the_operation_and_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let creds = dir.path().join("creds");
    std::fs::write(&creds, "AKTEST s3cret\n").unwrap();
    let s = Server::start(
        &dir.path().join("data"),
        &["--credentials", creds.to_str().unwrap()],
    );
    let host = s.addr.to_string();
    let sha = sha256_hex;
    // Sends `sent` as Rekognition `op`, signed over `signed_headers` and
    // `payload_hash`, with `content_sha` as X-Amz-Content-Sha256.
    let call = |op: &str,
                signed_headers: &[&str],
                payload_hash: &str,
                content_sha: Option<&str>,
                service: &str,
                sent: &str| {
        let h = signed_rekognition(
            s.addr,
            op,
            signed_headers,
            payload_hash,
            content_sha,
            service,
            ("AKTEST", "s3cret"),
            &amz_now(0),
        );
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        s.call("POST", "/", &h, sent.as_bytes())
    };
    let all = ["host", "x-amz-date", "x-amz-target"];
    let with_sha = ["host", "x-amz-content-sha256", "x-amz-date", "x-amz-target"];
    for id in ["decoy", "victim"] {
        let body = format!(r#"{{"CollectionId": "{id}"}}"#);
        let r = call(
            "CreateCollection",
            &all,
            &sha(body.as_bytes()),
            None,
            "rekognition",
            &body,
        );
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let decoy = r#"{"CollectionId": "decoy"}"#;
    let victim = r#"{"CollectionId": "victim"}"#;
    let (decoy_sha, victim_sha) = (sha(decoy.as_bytes()), sha(victim.as_bytes()));
    let unsigned = "UNSIGNED-PAYLOAD";
    /// A request that must be refused (and delete nothing).
    struct Refusal<'a> {
        why: &'a str,
        op: &'a str,
        signed: &'a [&'a str],
        payload_hash: &'a str,
        content_sha: Option<&'a str>,
        service: &'a str,
        body: &'a str,
    }
    let swapped = Refusal {
        why: "UNSIGNED-PAYLOAD with a swapped body",
        op: "DeleteCollection",
        signed: &with_sha,
        payload_hash: unsigned,
        content_sha: Some(unsigned),
        service: "rekognition",
        body: victim,
    };
    let refusals = [
        Refusal {
            why: "UNSIGNED-PAYLOAD with the body it came with",
            body: decoy,
            ..swapped
        },
        Refusal {
            why: "X-Amz-Content-Sha256 of another body",
            payload_hash: &decoy_sha,
            content_sha: Some(&decoy_sha),
            ..swapped
        },
        // ListFaces in place of a signed DescribeCollection.
        Refusal {
            why: "unsigned X-Amz-Target",
            op: "ListFaces",
            signed: &["host", "x-amz-date"],
            payload_hash: &victim_sha,
            content_sha: None,
            ..swapped
        },
        Refusal {
            why: "scope of another service",
            signed: &all,
            payload_hash: &victim_sha,
            content_sha: None,
            service: "connect",
            ..swapped
        },
        swapped,
    ];
    for r in refusals {
        let resp = call(
            r.op,
            r.signed,
            r.payload_hash,
            r.content_sha,
            r.service,
            r.body,
        );
        assert_eq!(
            (resp.status, resp.error_type().as_str()),
            (403, "InvalidSignatureException"),
            "{}: {}",
            r.why,
            String::from_utf8_lossy(&resp.body)
        );
    }
    let r = call(
        "DescribeCollection",
        &all,
        &sha(victim.as_bytes()),
        None,
        "rekognition",
        victim,
    );
    assert_eq!(
        r.status,
        200,
        "victim survived: {}",
        String::from_utf8_lossy(&r.body)
    );
    // The SDK's own form, the body's hash in X-Amz-Content-Sha256, passes.
    let r = call(
        "DeleteCollection",
        &with_sha,
        &decoy_sha,
        Some(&decoy_sha),
        "rekognition",
        decoy,
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // Connect: a rekognition-scoped signature does not open a Connect path.
    let date = amz_now(0);
    let headers = [("host", host.as_str()), ("x-amz-date", date.as_str())];
    for (service, status) in [("rekognition", 403), ("connect", 404)] {
        let auth = independent_sigv4(
            "GET",
            "/users/inst/u1",
            &headers,
            &["host", "x-amz-date"],
            &sha(b""),
            service,
            ("AKTEST", "s3cret"),
            &date,
        );
        let r = s.call(
            "GET",
            "/users/inst/u1",
            &[("x-amz-date", &date), ("authorization", &auth)],
            b"",
        );
        assert_eq!(
            r.status,
            status,
            "{service}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
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

/// Reads from `stream` until it is closed by the server (EOF or reset);
/// returns how long that took, or `None` when it stayed open for `within`.
fn closed_within(stream: &mut std::net::TcpStream, within: Duration) -> Option<Duration> {
    use std::io::Read;
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < within {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// Every timeout closes its connection: headers trickled, a body that never
/// arrives (answered 408 first), an idle keep-alive connection.
#[test]
fn timeouts_close_slow_and_idle_connections() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        dir.path(),
        &[
            "--header-timeout",
            "1",
            "--body-timeout",
            "1",
            "--idle-timeout",
            "1.5",
        ],
    );
    // Headers trickled a byte at a time, forever.
    let mut trickle = std::net::TcpStream::connect(s.addr).unwrap();
    let start = Instant::now();
    let head =
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RekognitionService.ListCollections\r\n";
    let mut closed = None;
    for b in head.iter().cycle().take(200) {
        if trickle.write_all(&[*b]).is_err() {
            closed = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed = closed
        .or_else(|| closed_within(&mut trickle, Duration::from_secs(1)).map(|_| start.elapsed()));
    let closed = closed.expect("a trickling client is cut off");
    assert!(
        closed < Duration::from_secs(4),
        "header timeout took {closed:?}"
    );
    // A declared body that never arrives: 408, then closed.
    let mut late = std::net::TcpStream::connect(s.addr).unwrap();
    late.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: RekognitionService.ListCollections\r\nContent-Length: 100\r\n\r\n{\"Max",
    )
    .unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = std::io::Read::read_to_end(&mut late, &mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("RequestTimeoutException"), "{answer}");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    // An idle keep-alive connection after one request.
    let mut c = s.conn();
    assert_eq!(c.request("GET", "/health", &[], b"").unwrap().status, 200);
    let mut raw = c.into_stream();
    let idle =
        closed_within(&mut raw, Duration::from_secs(5)).expect("an idle connection is closed");
    assert!(
        idle > Duration::from_millis(1000),
        "closed too early: {idle:?}"
    );
    // The server is still fine.
    assert_eq!(s.call("GET", "/health", &[], b"").status, 200);
    assert!(s.stop().success());
}

/// Under an open-file limit of 256, 300 idle connections and clients
/// trickling their headers do not keep another client from being served
/// within a second: the server makes room by closing the idle ones.
#[test]
fn slow_and_idle_clients_do_not_deny_service() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with_file_limit(dir.path(), &[], 256);
    let mut idle = Vec::new();
    for _ in 0..300 {
        match std::net::TcpStream::connect(s.addr) {
            Ok(c) => idle.push(c),
            Err(e) => panic!("connect: {e}"),
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tricklers: Vec<_> = (0..8)
        .map(|_| {
            let addr = s.addr;
            let stop = stop.clone();
            std::thread::spawn(move || {
                let Ok(mut c) = std::net::TcpStream::connect(addr) else {
                    return;
                };
                for b in b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: "
                    .iter()
                    .chain(std::iter::repeat(&b'a'))
                {
                    if stop.load(std::sync::atomic::Ordering::Relaxed)
                        || c.write_all(&[*b]).is_err()
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for round in 0..5 {
        let start = Instant::now();
        let r = s.rekognition("ListCollections", "{}");
        let took = start.elapsed();
        assert_eq!(r.status, 200, "round {round}");
        assert!(
            took < Duration::from_secs(1),
            "round {round}: served after {took:?}"
        );
        // More idle connections keep arriving.
        for _ in 0..50 {
            if let Ok(c) = std::net::TcpStream::connect(s.addr) {
                idle.push(c);
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tricklers {
        let _ = t.join();
    }
    drop(idle);
    assert!(s.stop().success());
}

/// A request that is not a JSON object is a `SerializationException`: no
/// structure is read positionally from an array, at any depth.
#[test]
fn json_arrays_are_not_requests() {
    let dir = tempfile::tempdir().unwrap();
    seed_connect(dir.path(), 20);
    let s = Server::start(dir.path(), &[]);
    for (op, body) in [
        ("CreateCollection", r#"["positional-id"]"#),
        ("CreateCollection", r#"{"CollectionId": ["positional-id"]}"#),
        ("ListCollections", r#"[null, 5]"#),
        (
            "SearchFacesByImage",
            r#"{"CollectionId": "c", "Image": ["AAAA"]}"#,
        ),
    ] {
        let r = s.rekognition(op, body);
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (400, "SerializationException"),
            "{op} {body}"
        );
    }
    let r = s.rekognition("ListCollections", "{}");
    assert_eq!(
        r.json()["CollectionIds"],
        serde_json::json!([]),
        "nothing was created"
    );
    for body in [
        r#"["demo", null, 1]"#,
        r#"{"InstanceId": "demo", "SearchCriteria": {"StringCondition": ["Username", "jo", "STARTS_WITH"]}}"#,
        r#"{"InstanceId": "demo", "MaxResults": "5"}"#,
    ] {
        let r = s.call("POST", "/search-users", &[], body.as_bytes());
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (400, "SerializationException"),
            "{body}"
        );
    }
    assert!(s.stop().success());
}

/// A search image's face must have the collection's dimension: a (1, 32)
/// probe is not read as two 16-wide faces (found by the HTTP fuzz harness).
#[test]
fn a_search_image_of_another_width_is_refused() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(dir.path(), &[]);
    let b64 = |rows: usize, dim: usize, v: f32| {
        base64::engine::general_purpose::STANDARD.encode(rollcall::faces::npy_bytes(
            rows,
            dim,
            &vec![v; rows * dim],
        ))
    };
    assert_eq!(
        s.rekognition("CreateCollection", r#"{"CollectionId": "c"}"#)
            .status,
        200
    );
    let r = s.rekognition(
        "IndexFaces",
        &format!(
            r#"{{"CollectionId": "c", "Image": {{"Bytes": "{}"}}}}"#,
            b64(1, 16, 0.25)
        ),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    for op in ["SearchFacesByImage", "SearchUsersByImage"] {
        let body = format!(
            r#"{{"CollectionId": "c", "Image": {{"Bytes": "{}"}}, "FaceMatchThreshold": 0}}"#,
            b64(1, 32, 0.25)
        );
        let body = if op == "SearchUsersByImage" {
            body.replace("FaceMatchThreshold", "UserMatchThreshold")
        } else {
            body
        };
        let r = s.rekognition(op, &body);
        assert_eq!(
            (r.status, r.error_type().as_str()),
            (400, "InvalidParameterException"),
            "{op}: {}",
            String::from_utf8_lossy(&r.body)
        );
    }
    assert!(s.stop().success());
}
