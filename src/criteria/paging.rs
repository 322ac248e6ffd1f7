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
//! [`seal`] and [`unseal`] are the same construction for any payload and
//! context; the Connect list operations (`ListUserProficiencies`,
//! `ListUserHierarchyGroups`) seal their tokens with them too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{fold, Filter};
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
    /// use rollcall::criteria::paging::SortKey;
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

/// A fingerprint of the query a token belongs to (its canonical text).
pub fn query_fingerprint(filter: &Filter) -> [u8; 32] {
    Sha256::digest(filter.to_string().as_bytes()).into()
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
///
/// ```
/// use rollcall::criteria::paging::{seal, unseal};
/// let t = seal(b"ListThings instance-1", b"\x05");
/// assert_eq!(unseal(b"ListThings instance-1", &t).as_deref(), Some(&b"\x05"[..]));
/// assert_eq!(unseal(b"ListThings instance-2", &t), None);
/// assert_eq!(unseal(b"ListThings instance-1", "p.1"), None);
/// ```
pub fn seal(context: &[u8], payload: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(payload.len() + MAC_BYTES);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&mac(context, payload));
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload of a token [`seal`]ed for `context`; `None` for any token
/// that was not (altered, made up, or sealed for another context).
pub fn unseal(context: &[u8], token: &str) -> Option<Vec<u8>> {
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

/// The token that resumes `filter` after `last`: [`seal`]ed for the
/// canonical text of the filter.
pub fn encode_token(filter: &Filter, last: &SortKey) -> String {
    let mut payload = Vec::with_capacity(last.folded.len() + last.id.len() + 4);
    payload.extend_from_slice(&(last.folded.len() as u32).to_le_bytes());
    payload.extend_from_slice(last.folded.as_bytes());
    payload.extend_from_slice(last.id.as_bytes());
    seal(filter.to_string().as_bytes(), &payload)
}

/// Reads a token issued for `filter`; any other token is an
/// `InvalidParameterException`.
///
/// ```
/// use rollcall::criteria::{paging::*, Filter};
/// let all = Filter::all();
/// let t = encode_token(&all, &SortKey::new("ann", "1"));
/// assert_eq!(decode_token(&all, &t).unwrap(), SortKey::new("ann", "1"));
/// let other = rollcall::syntax::parse("username eq x").unwrap();
/// assert!(decode_token(&other, &t).is_err());
/// ```
pub fn decode_token(filter: &Filter, token: &str) -> Result<SortKey, AwsError> {
    let invalid = || {
        AwsError::invalid_parameter(
            "NextToken: invalid token (altered, or issued for a different query)",
        )
    };
    let payload = unseal(filter.to_string().as_bytes(), token).ok_or_else(invalid)?;
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

    /// The token format of earlier versions: base64 of the payload and the
    /// HMAC over the query fingerprint and the payload. Tokens issued
    /// before `seal` existed must still be read.
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
