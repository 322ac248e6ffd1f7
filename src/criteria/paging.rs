//! Result order and paging tokens, shared by the reference evaluator and the
//! index engine so that both page identically.
//!
//! Users are ordered by [`SortKey`]: the case-folded `Username`, then `Id`,
//! both by code points. A `NextToken` names the last key returned and is
//! bound to the query by an HMAC over both, so a token that was altered, or
//! that is replayed with another query, is rejected with
//! `InvalidParameterException`. The key is fixed: the MAC makes tokens
//! tamper-evident, not secret.

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

fn mac(fingerprint: &[u8; 32], payload: &[u8]) -> [u8; MAC_BYTES] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(TOKEN_KEY).expect("HMAC takes any key");
    m.update(fingerprint);
    m.update(payload);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

/// The token that resumes `filter` after `last`.
pub fn encode_token(filter: &Filter, last: &SortKey) -> String {
    let mut payload = Vec::with_capacity(last.folded.len() + last.id.len() + 4);
    payload.extend_from_slice(&(last.folded.len() as u32).to_le_bytes());
    payload.extend_from_slice(last.folded.as_bytes());
    payload.extend_from_slice(last.id.as_bytes());
    let tag = mac(&query_fingerprint(filter), &payload);
    payload.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(payload)
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
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    if bytes.len() < 4 + MAC_BYTES {
        return Err(invalid());
    }
    let (payload, tag) = bytes.split_at(bytes.len() - MAC_BYTES);
    if mac(&query_fingerprint(filter), payload) != tag {
        return Err(invalid());
    }
    let len = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) as usize;
    let rest = &payload[4..];
    if len > rest.len() {
        return Err(invalid());
    }
    let folded = String::from_utf8(rest[..len].to_vec()).map_err(|_| invalid())?;
    let id = String::from_utf8(rest[len..].to_vec()).map_err(|_| invalid())?;
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
}
