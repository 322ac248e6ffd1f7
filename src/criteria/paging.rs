//! Result order and paging tokens, shared by the reference evaluator and the
//! index engine so that both page identically.
//!
//! Users are ordered by [`SortKey`]: the case-folded `Username`, then `Id`,
//! both by code points. A `NextToken` names the last key returned and is
//! bound to the query by an HMAC over both, so a token that was altered, or
//! that is replayed with another query, is rejected with
//! `InvalidParameterException`. The key is fixed: the MAC makes tokens
//! tamper-evident, not secret.
//!
//! The query a token is bound to is the versioned binary encoding of the
//! tree ([`query_encoding`]), not its printed text, so that a change to the
//! printer's spelling does not invalidate the tokens in flight.
//!
//! [`seal`] and [`unseal`] are the same construction for any payload and
//! context; the Connect list operations (`ListUserProficiencies`,
//! `ListUserHierarchyGroups`) seal their tokens with them too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{fold, Filter, ProficiencyCondition, StringOp};
use crate::AwsError;

/// The order of search results: folded username, then id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortKey {
    /// `fold(Username)`.
    pub folded: String,
    /// `Id`.
    pub id: String,
}

impl SortKey {
    /// The key of a user.
    ///
    /// ```
    /// use rollcall::criteria::SortKey;
    /// assert!(SortKey::new("ann", "2") < SortKey::new("Bob", "1"));
    /// assert!(SortKey::new("Ann", "1") < SortKey::new("ann", "2"));
    /// ```
    pub fn new(username: &str, id: &str) -> Self {
        SortKey {
            folded: fold(username),
            id: id.to_string(),
        }
    }
}

const TOKEN_KEY: &[u8] = b"rollcall/SearchUsers/NextToken/v1";
const MAC_BYTES: usize = 16;

/// The first bytes of every [`query_encoding`]: the version of the
/// encoding. A change to the encoding bumps it, which invalidates the
/// tokens issued before (as version 2 did to the tokens bound to the
/// printed text).
const QUERY_ENCODING: &[u8] = b"rollcall/Filter/v2\0";

/// The canonical binary encoding of a query, which tokens are bound to:
/// a version tag, then the tree as the [`Filter`] constructors normalised
/// it (single-part groups collapsed), each node a tag byte and its parts
/// (counts as `u32`, strings as a `u32` length and UTF-8, numbers as
/// `i32`, all little-endian; fields and comparisons by their AWS names).
/// Two trees have the same encoding exactly when they are equal.
pub(crate) fn query_encoding(filter: &Filter) -> Vec<u8> {
    let mut out = QUERY_ENCODING.to_vec();
    encode_filter(filter, &mut out);
    out
}

/// A string of a query encoding: its length (`u32`, little-endian) and
/// its UTF-8.
pub(super) fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A string test of a user field, or of a proficiency inside a `p` node.
pub(super) fn encode_string_test(field: &str, op: StringOp, value: &str, out: &mut Vec<u8>) {
    out.push(b's');
    encode_str(field, out);
    encode_str(op.aws_name(), out);
    encode_str(value, out);
}

fn encode_filter(filter: &Filter, out: &mut Vec<u8>) {
    let group = |tag: u8, children: &[Filter], out: &mut Vec<u8>| {
        out.push(tag);
        out.extend_from_slice(&(children.len() as u32).to_le_bytes());
        for c in children {
            encode_filter(c, out);
        }
    };
    match filter {
        Filter::And(children) => group(b'&', children, out),
        Filter::Or(children) => group(b'|', children, out),
        Filter::String(c) => encode_string_test(c.field().as_str(), c.op(), c.value(), out),
        Filter::Hierarchy(h) => {
            out.push(b'h');
            encode_str(h.mode().aws_name(), out);
            encode_str(h.group(), out);
        }
        Filter::Tag(t) => {
            out.push(b't');
            encode_str(t.key(), out);
            match t.value() {
                Some(v) => {
                    out.push(1);
                    encode_str(v, out);
                }
                None => out.push(0),
            }
        }
        Filter::Proficiency(items) => {
            out.push(b'p');
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                match item {
                    ProficiencyCondition::String(p) => {
                        encode_string_test(p.field().as_str(), p.op(), p.value(), out)
                    }
                    ProficiencyCondition::Level(t) => {
                        let (lo, hi) = t.bounds();
                        out.push(b'l');
                        encode_str(t.op().aws_name(), out);
                        out.extend_from_slice(&lo.to_le_bytes());
                        out.extend_from_slice(&hi.to_le_bytes());
                    }
                }
            }
        }
    }
}

fn mac(context: &[u8], payload: &[u8]) -> [u8; MAC_BYTES] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(TOKEN_KEY).expect("HMAC takes any key");
    m.update(&Sha256::digest(context));
    m.update(payload);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

/// Seals `payload` into a paging token bound to `context` (what the token
/// is for: a query, an operation and its resource): URL-safe base64,
/// unpadded, of the payload and a 16-byte HMAC-SHA256 tag over the
/// SHA-256 of the context and the payload. Only [`unseal`] with the same
/// context gives the payload back. The payload is readable by anyone: the
/// tag makes a token tamper-evident, not secret.
pub(crate) fn seal(context: &[u8], payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(payload.len() + MAC_BYTES);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&mac(context, payload));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a token [`seal`]ed for `context`; `None` for any token
/// that was not (altered, made up, or sealed for another context).
pub(crate) fn unseal(context: &[u8], token: &str) -> Option<Vec<u8>> {
    let mut bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() < MAC_BYTES {
        return None;
    }
    let tag = bytes.split_off(bytes.len() - MAC_BYTES);
    let expected = mac(context, &bytes);
    // Constant time, though the tag guards no secret.
    let diff = expected
        .iter()
        .zip(&tag)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    (diff == 0).then_some(bytes)
}

/// The token that resumes `filter` after `last`: [`seal_key`] for the
/// [`query_encoding`] of the filter.
pub(crate) fn encode_token(filter: &Filter, last: &SortKey) -> String {
    seal_key(&query_encoding(filter), last)
}

/// Reads a token issued for `filter`; any other token is an
/// `InvalidParameterException`.
pub(crate) fn decode_token(filter: &Filter, token: &str) -> Result<SortKey, AwsError> {
    unseal_key(&query_encoding(filter), token)
}

/// The token that resumes the query whose encoding is `context` after
/// `last`: the folded name's length (`u32`, little-endian), the folded
/// name and the id, [`seal`]ed for `context`. `SearchUsers` and
/// `SearchUserHierarchyGroups` page with it.
pub(crate) fn seal_key(context: &[u8], last: &SortKey) -> String {
    let mut payload = Vec::with_capacity(last.folded.len() + last.id.len() + 4);
    payload.extend_from_slice(&(last.folded.len() as u32).to_le_bytes());
    payload.extend_from_slice(last.folded.as_bytes());
    payload.extend_from_slice(last.id.as_bytes());
    seal(context, &payload)
}

/// The key of a token [`seal_key`]ed for `context`; any other token is an
/// `InvalidParameterException`.
pub(crate) fn unseal_key(context: &[u8], token: &str) -> Result<SortKey, AwsError> {
    let invalid = || {
        AwsError::invalid_parameter(
            "NextToken: invalid token (altered, or issued for a different query)",
        )
    };
    let payload = unseal(context, token).ok_or_else(invalid)?;
    let (len, rest) = payload.split_at_checked(4).ok_or_else(invalid)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if len > rest.len() {
        return Err(invalid());
    }
    let (folded, id) = rest.split_at(len);
    let folded = String::from_utf8(folded.to_vec()).map_err(|_| invalid())?;
    let id = String::from_utf8(id.to_vec()).map_err(|_| invalid())?;
    Ok(SortKey { folded, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fingerprint of the query a token belongs to: the SHA-256 of its
    /// [`query_encoding`].
    fn query_fingerprint(filter: &Filter) -> [u8; 32] {
        Sha256::digest(query_encoding(filter)).into()
    }

    #[test]
    fn query_encoding_example() {
        assert_eq!(
            query_encoding(&Filter::all()),
            b"rollcall/Filter/v2\0&\0\0\0\0"
        );
    }

    #[test]
    fn seal_example() {
        let t = seal(b"ListThings instance-1", b"\x05");
        assert_eq!(
            unseal(b"ListThings instance-1", &t).as_deref(),
            Some(&b"\x05"[..])
        );
        assert_eq!(unseal(b"ListThings instance-2", &t), None);
        assert_eq!(unseal(b"ListThings instance-1", "p.1"), None);
    }

    #[test]
    fn decode_token_example() {
        let all = Filter::all();
        let t = encode_token(&all, &SortKey::new("ann", "1"));
        assert_eq!(decode_token(&all, &t).unwrap(), SortKey::new("ann", "1"));
        let other = crate::syntax::parse("username eq x").unwrap();
        assert!(decode_token(&other, &t).is_err());
    }

    #[test]
    fn altered_token_is_rejected() {
        let all = Filter::all();
        let t = encode_token(&all, &SortKey::new("zoë", "id-9"));
        let mut chars: Vec<char> = t.chars().collect();
        chars[3] = if chars[3] == 'A' { 'B' } else { 'A' };
        let altered: String = chars.into_iter().collect();
        assert!(decode_token(&all, &altered).is_err());
        assert!(decode_token(&all, "not a token!").is_err());
        assert!(decode_token(&all, "").is_err());
    }

    /// The token format: base64 of the payload and the HMAC over the query
    /// fingerprint and the payload, as before `seal` existed (only the
    /// fingerprint changed since: it hashes the query's encoding, not its
    /// text).
    #[test]
    fn tokens_stay_byte_compatible() {
        let filter = crate::syntax::parse("username sw jo and tag.Team eq blue").unwrap();
        let last = SortKey::new("Jo", "id-7");
        let mut payload = (last.folded.len() as u32).to_le_bytes().to_vec();
        payload.extend_from_slice(last.folded.as_bytes());
        payload.extend_from_slice(last.id.as_bytes());
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(TOKEN_KEY).unwrap();
        m.update(&query_fingerprint(&filter));
        m.update(&payload);
        let mut old = payload.clone();
        old.extend_from_slice(&m.finalize().into_bytes()[..MAC_BYTES]);
        let old = URL_SAFE_NO_PAD.encode(old);
        assert_eq!(encode_token(&filter, &last), old);
        assert_eq!(decode_token(&filter, &old).unwrap(), last);
    }

    /// Tokens are bound to the tree, not to how it prints: trees that
    /// differ anywhere (even where the printer would quote alike) get
    /// different encodings, and one tree always the same.
    #[test]
    fn query_encoding_tells_trees_apart() {
        let queries = [
            "*",
            "username eq a",
            "username eq b",
            "firstname eq a",
            "username sw a",
            "(username eq a and username eq b) and username eq c",
            "username eq a and username eq b and username eq c",
            "username eq a or username eq b",
            "tag.a",
            "tag.a eq b",
            "hierarchy eq g",
            "hierarchy under g",
            "proficiency[name eq a and level ge 3]",
            "proficiency[name eq a and level gt 3]",
            "proficiency[value eq a and level in 1..3]",
            "proficiency[]",
        ];
        let encodings: std::collections::HashSet<Vec<u8>> = queries
            .iter()
            .map(|q| query_encoding(&crate::syntax::parse(q).unwrap()))
            .collect();
        assert_eq!(encodings.len(), queries.len());
        let q = crate::syntax::parse("username sw jo and tag.Team eq blue").unwrap();
        assert_eq!(query_encoding(&q), query_encoding(&q.clone()));
    }

    #[test]
    fn sealed_tokens_are_bound_to_their_context() {
        let t = seal(b"ctx-a", b"payload");
        assert_eq!(unseal(b"ctx-a", &t).as_deref(), Some(&b"payload"[..]));
        assert_eq!(unseal(b"ctx-b", &t), None);
        assert_eq!(unseal(b"ctx-a", ""), None);
        assert_eq!(unseal(b"ctx-a", "p.1"), None);
        let empty = seal(b"ctx-a", b"");
        assert_eq!(unseal(b"ctx-a", &empty).as_deref(), Some(&b""[..]));
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap();
        bytes[0] ^= 1;
        assert_eq!(unseal(b"ctx-a", &URL_SAFE_NO_PAD.encode(bytes)), None);
    }
}
