//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), one function
//! per decoder of untrusted bytes. The libFuzzer targets call them on
//! nightly; `tests/fuzz_corpus.rs` replays every corpus through them on
//! stable. Each takes any bytes and panics only when its property fails
//! (that is the point): decoding never panics, never allocates more than
//! the input justifies, and what decodes behaves as documented.
//!
//! Not a public API: hidden from the docs, kept public only so that the
//! fuzz crate and the tests can reach it.

use crate::criteria::wire::{parse_request, SearchUsersRequest};
use crate::criteria::Filter;
use crate::records::{parse_user_line, read_users};
use crate::serve::{parse_amz_date, Authorization, Presigned, MAX_PRESIGN_EXPIRES_SECS};

/// The `parse` target: when the bytes are UTF-8, parsing must not panic,
/// and a query that parses must print to text that parses back to the same
/// tree and prints the same again; an error must render at its spot.
///
/// ```
/// rollcall::fuzzing::parse(b"username eq jo or (tag.x and *)");
/// rollcall::fuzzing::parse(&[0xff, 0x28]);
/// ```
pub fn parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::syntax::parse(text) {
        Ok(q) => {
            let printed = q.to_string();
            match crate::syntax::parse(&printed) {
                Ok(again) => {
                    assert_eq!(again, q, "reparse of {printed:?} (from {text:?}) differs");
                    assert_eq!(again.to_string(), printed, "printing is not idempotent");
                }
                Err(e) => panic!("printed {printed:?} (from {text:?}) does not parse: {e}"),
            }
        }
        Err(e) => {
            // Errors must be drawable at their spot.
            let _ = e.render(text);
        }
    }
}

/// The `decode` target (the AWS JSON `SearchUsersRequest` decoder):
/// decoding and validation never panic; a request that validates prints as
/// text that parses back to the same tree, and raises back to a request
/// that is stable from then on.
///
/// ```
/// rollcall::fuzzing::decode(br#"{"SearchCriteria": {"AndConditions": []}}"#);
/// rollcall::fuzzing::decode(b"\xff not json");
/// ```
pub fn decode(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(search) = parse_request(text).and_then(|r| r.lower()) else {
        return;
    };
    let printed = search.filter.to_string();
    match crate::syntax::parse(&printed) {
        Ok(back) => assert_eq!(
            back, search.filter,
            "text of {text:?} reads back differently"
        ),
        Err(e) => panic!("{printed:?} (from {text:?}) does not parse: {e}"),
    }
    let raise = |f: &Filter| match SearchUsersRequest::from_filter(f) {
        Ok(r) => r,
        Err(e) => panic!("the filter of {text:?} does not raise: {e}"),
    };
    let first = raise(&search.filter);
    let again = match first.lower() {
        Ok(s) => raise(&s.filter),
        Err(e) => panic!("the raised request of {text:?} is invalid: {e}"),
    };
    assert_eq!(first, again, "raising {text:?} is not stable");
}

/// The `sigv4_header` target (the SigV4 `Authorization` header parser and
/// the presigned-URL query parser), on the bytes read as text (lossily):
/// neither panics; a refusal is a 403 with a message; what parses holds
/// what verification relies on (a non-empty key id, an 8-digit date,
/// lowercase hex signature, non-empty lowercase header names, and for a
/// presigned URL a valid `X-Amz-Date` and an expiry within 7 days).
///
/// ```
/// rollcall::fuzzing::sigv4_header(
///     b"AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/connect/aws4_request, \
///       SignedHeaders=host;x-amz-date, Signature=ABCD",
/// );
/// rollcall::fuzzing::sigv4_header(b"X-Amz-Signature=ab&X-Amz-Credential=%");
/// ```
pub fn sigv4_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let refused = |e: crate::serve::ApiError| {
        assert_eq!(e.status, Some(403), "{text:?} refused with {e:?}");
        assert!(!e.message.is_empty(), "{text:?} refused without a message");
    };
    match Authorization::parse(&text) {
        Ok(a) => check_authorization(&a, &text),
        Err(e) => refused(e),
    }
    match Presigned::parse(&text) {
        Ok(Some(p)) => {
            check_authorization(&p.auth, &text);
            assert!(
                parse_amz_date(&p.amz_date).is_some(),
                "{text:?}: X-Amz-Date {:?} accepted",
                p.amz_date
            );
            assert!(
                (1..=MAX_PRESIGN_EXPIRES_SECS).contains(&p.expires),
                "{text:?}: X-Amz-Expires {} accepted",
                p.expires
            );
        }
        Ok(None) => {}
        Err(e) => refused(e),
    }
}

fn check_authorization(a: &Authorization, text: &str) {
    assert!(!a.access_key_id.is_empty(), "{text:?}: empty key id");
    assert!(
        a.date.len() == 8 && a.date.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}: date {:?}",
        a.date
    );
    assert!(
        !a.signature.is_empty()
            && a.signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}: signature {:?}",
        a.signature
    );
    assert!(
        !a.signed_headers.is_empty()
            && a.signed_headers
                .iter()
                .all(|h| !h.is_empty() && !h.bytes().any(|b| b.is_ascii_uppercase())),
        "{text:?}: signed headers {:?}",
        a.signed_headers
    );
}

/// The `import_line` target (the users-file reader of `connect import`,
/// [`read_users`]), on the bytes as a whole file: it never panics; an error
/// names a line of the input (`line N: ...`, N within the file); and every
/// user it accepts is stored as JSON that reads back as the same user.
///
/// ```
/// rollcall::fuzzing::import_line(b"{\"Id\":\"1\",\"Username\":\"ann\"}\n\nnot json\n");
/// rollcall::fuzzing::import_line(b"\xff\xfe");
/// ```
pub fn import_line(data: &[u8]) {
    let lines = data.split(|&b| b == b'\n').count();
    let mut users = Vec::new();
    let result = read_users(data, |line, user| {
        users.push((line, user));
        Ok(())
    });
    if let Err(e) = result {
        assert!(
            (1..=lines).contains(&e.line),
            "error on line {} of a {lines}-line input: {e}",
            e.line
        );
        let text = e.to_string();
        assert!(
            text.starts_with(&format!("line {}: ", e.line)) && text.len() > 8,
            "the error does not name its line: {text:?}"
        );
    }
    for (line, user) in users {
        assert!(
            (1..=lines).contains(&line),
            "user on line {line} of {lines}"
        );
        let stored = match serde_json::to_string(&user) {
            Ok(s) => s,
            Err(e) => panic!("user of line {line} does not serialize: {e}"),
        };
        match parse_user_line(&stored, line) {
            Ok(back) => assert_eq!(back, user, "line {line} reads back differently"),
            Err(e) => panic!("stored form {stored:?} of line {line} does not read back: {e}"),
        }
    }
}
