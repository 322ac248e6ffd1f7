//! AWS Signature Version 4: parsing the `Authorization` header (or the
//! `X-Amz-*` query parameters of a presigned URL) and, with a credentials
//! file, verifying the signature of every request.
//!
//! Takes in the method, the raw path and query, the headers and the body of
//! a request; gives out `Ok` or the [`ApiError`] (403) AWS answers:
//! `MissingAuthenticationTokenException` (no signature),
//! `IncompleteSignatureException` (a malformed `Authorization` header),
//! `UnrecognizedClientException` (an unknown access key id) and
//! `InvalidSignatureException` (a wrong secret, an altered request, a
//! timestamp more than 15 minutes off, or a presigned URL past its
//! `X-Amz-Expires`).

use std::collections::HashMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::errors::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// The largest difference between a request's `X-Amz-Date` and the server's
/// clock that verification accepts, as AWS does: 15 minutes.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Access key ids and their secrets, read from a credentials file.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    keys: HashMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// What is wrong in a credentials file ([`Credentials::parse`]): the line
/// (1-based; none when the file as a whole is at fault) and the kind.
/// Printed as `line N: ...`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{kind}", .line.map(|n| format!("line {n}: ")).unwrap_or_default())]
pub struct CredentialsError {
    /// The line at fault.
    pub line: Option<usize>,
    /// What is wrong there.
    pub kind: CredentialsErrorKind,
}

/// The kinds of [`CredentialsError`]; each names an input that triggers it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsErrorKind {
    /// `[default` (a section header without its `]`).
    #[error("a section header must end with ']'")]
    UnclosedSection,
    /// `aws_access_key_id =` (the key, lowercased, with nothing after it).
    #[error("{0} has no value")]
    NoValue(String),
    /// `aws_access_key_id = A` and `aws_access_key_id = B` in one profile.
    #[error("a second {0} in the same profile")]
    Repeated(String),
    /// `colour = blue` (the key is not an AWS CLI credentials key).
    #[error(
        "unknown setting '{0}' (not an AWS CLI credentials key); expected 'ACCESS_KEY_ID SECRET', \
         'ACCESS_KEY_ID:SECRET' or an AWS CLI line such as 'aws_access_key_id = ...'"
    )]
    UnknownSetting(String),
    /// `lonely` or `AK1 s1 extra` (neither a pair nor a setting).
    #[error(
        "expected 'ACCESS_KEY_ID SECRET', 'ACCESS_KEY_ID:SECRET' or an AWS CLI line such as \
         'aws_access_key_id = ...'"
    )]
    NotAPair,
    /// `aws_access_key_id AK` (a known key written as a pair).
    #[error("expected '{0} = VALUE'")]
    KeyWithoutEquals(String),
    /// `[default]` with `aws_access_key_id = AK` and no secret.
    #[error("aws_access_key_id without an aws_secret_access_key in its profile")]
    IdWithoutSecret,
    /// `[default]` with `aws_secret_access_key = s` and no id.
    #[error("aws_secret_access_key without an aws_access_key_id in its profile")]
    SecretWithoutId,
    /// `# nothing` (no pair in the whole file).
    #[error("no access key id / secret pair found")]
    NoKeys,
}

/// A credentials file that cannot be used ([`Credentials::load`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsFileError {
    /// The file cannot be read: `--credentials /no/such/file`.
    #[error("cannot read credentials file '{}': {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// The file system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse: a line `colour = blue`.
    #[error("credentials file '{}': {source}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong in it.
        #[source]
        source: CredentialsError,
    },
}

impl Credentials {
    /// Parses a credentials file. Each line is read by its form:
    ///
    /// - blank lines, `#` and `;` comments and `[profile]` headers are
    ///   skipped;
    /// - an AWS CLI ini line `KEY = VALUE` (or `KEY: VALUE`) whose key,
    ///   case-insensitive, is one the AWS CLI knows: `aws_access_key_id`
    ///   and `aws_secret_access_key` make a pair within one profile;
    ///   `aws_session_token`, `region`, `output` and the other AWS CLI
    ///   settings are accepted and ignored (as are the indented sub-settings
    ///   of a nested one such as `s3 =`, and everything in a `[services]`
    ///   section);
    /// - any other line is one pair `ACCESS_KEY_ID SECRET` (or
    ///   `ACCESS_KEY_ID:SECRET`, `ACCESS_KEY_ID,SECRET`): the id ends at the
    ///   first space, `:` or `,`; the secret is the rest and may hold `=`
    ///   or `:`, not spaces.
    ///
    /// Any other line (an unknown `key = value`, a lone word, a secret with
    /// a space in it) is refused, naming its line, as is a profile with an
    /// access key id and no secret (or a secret and no id).
    ///
    /// ```
    /// use rollcall::serve::Credentials;
    /// let c = Credentials::parse("# test keys\nAKIDEXAMPLE wJalrXUtnFEMI\nAK3 abc=def\n").unwrap();
    /// assert_eq!(c.secret("AKIDEXAMPLE"), Some("wJalrXUtnFEMI"));
    /// assert_eq!(c.secret("AK3"), Some("abc=def"));
    /// let ini = "[default]\naws_access_key_id = AK2\naws_secret_access_key = s2\nregion = eu-west-1\n";
    /// assert_eq!(Credentials::parse(ini).unwrap().secret("AK2"), Some("s2"));
    /// let bad = Credentials::parse("AK1 s1\ncolour = blue\n").unwrap_err();
    /// assert_eq!(bad.line, Some(2));
    /// assert!(bad.to_string().starts_with("line 2: unknown setting 'colour'"), "{bad}");
    /// ```
    pub fn parse(text: &str) -> Result<Credentials, CredentialsError> {
        /// The keys of the AWS CLI's credentials and config files.
        const KNOWN: &[&str] = &[
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "aws_security_token",
            "aws_account_id",
            "region",
            "output",
            "account_id_endpoint_mode",
            "api_versions",
            "auth_scheme_preference",
            "ca_bundle",
            "cli_auto_prompt",
            "cli_binary_format",
            "cli_help_output",
            "cli_history",
            "cli_pager",
            "cli_timestamp_format",
            "credential_process",
            "credential_source",
            "defaults_mode",
            "disable_request_compression",
            "duration_seconds",
            "ec2_metadata_service_endpoint",
            "ec2_metadata_service_endpoint_mode",
            "ec2_metadata_v1_disabled",
            "endpoint_discovery_enabled",
            "endpoint_url",
            "external_id",
            "ignore_configure_endpoint_urls",
            "max_attempts",
            "metadata_service_num_attempts",
            "metadata_service_timeout",
            "mfa_serial",
            "parameter_validation",
            "request_checksum_calculation",
            "request_min_compression_size_bytes",
            "response_checksum_validation",
            "retry_mode",
            "role_arn",
            "role_session_name",
            "s3",
            "services",
            "sigv4a_signing_region_set",
            "source_profile",
            "sso_account_id",
            "sso_region",
            "sso_registration_scopes",
            "sso_role_name",
            "sso_session",
            "sso_start_url",
            "tcp_keepalive",
            "use_dualstack_endpoint",
            "use_fips_endpoint",
            "web_identity_token_file",
        ];
        use CredentialsErrorKind as K;
        let fault = |line: usize, kind: CredentialsErrorKind| CredentialsError {
            line: Some(line),
            kind,
        };
        /// The id and secret of one profile, each with its line number.
        #[derive(Default)]
        struct Profile {
            id: Option<(usize, String)>,
            secret: Option<(usize, String)>,
        }
        fn finish(p: Profile, keys: &mut HashMap<String, String>) -> Result<(), CredentialsError> {
            let (line, kind) = match (p.id, p.secret) {
                (Some((_, id)), Some((_, secret))) => {
                    keys.insert(id, secret);
                    return Ok(());
                }
                (Some((n, _)), None) => (n, CredentialsErrorKind::IdWithoutSecret),
                (None, Some((n, _))) => (n, CredentialsErrorKind::SecretWithoutId),
                (None, None) => return Ok(()),
            };
            Err(CredentialsError {
                line: Some(line),
                kind,
            })
        }
        let mut keys = HashMap::new();
        let mut profile = Profile::default();
        // Inside a nested setting (`s3 =` and its indented lines).
        let mut nested = false;
        // Inside a `[services ...]` section, whose keys are service names.
        let mut services = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let indented = raw.starts_with([' ', '\t']);
            if nested && indented {
                continue;
            }
            nested = false;
            if line.starts_with('[') {
                if !line.ends_with(']') {
                    return Err(fault(n, K::UnclosedSection));
                }
                finish(std::mem::take(&mut profile), &mut keys)?;
                let name = line[1..line.len() - 1].trim();
                services = name == "services" || name.starts_with("services ");
                continue;
            }
            if services {
                continue;
            }
            let split = line
                .find(['=', ':'])
                .map(|at| (&line[..at], &line[at..at + 1], line[at + 1..].trim()));
            if let Some((key, delim, value)) = split {
                let key = key.trim();
                let lower = key.to_ascii_lowercase();
                if KNOWN.contains(&lower.as_str()) {
                    let slot = match lower.as_str() {
                        "aws_access_key_id" => &mut profile.id,
                        "aws_secret_access_key" => &mut profile.secret,
                        _ => {
                            nested = value.is_empty();
                            continue;
                        }
                    };
                    if value.is_empty() {
                        return Err(fault(n, K::NoValue(lower)));
                    }
                    if slot.is_some() {
                        return Err(fault(n, K::Repeated(lower)));
                    }
                    *slot = Some((n, value.to_string()));
                    continue;
                }
                if delim == "=" && !key.contains(|c: char| c.is_whitespace() || c == ',') {
                    return Err(fault(n, K::UnknownSetting(key.to_string())));
                }
            }
            // A plain pair.
            let at = line
                .find(|c: char| c.is_whitespace() || c == ':' || c == ',')
                .ok_or_else(|| fault(n, K::NotAPair))?;
            let (id, rest) = line.split_at(at);
            let rest = rest.trim_start();
            let secret = rest.strip_prefix([':', ',']).unwrap_or(rest).trim_start();
            if secret.is_empty() || secret.contains(char::is_whitespace) {
                return Err(fault(n, K::NotAPair));
            }
            if KNOWN.contains(&id.to_ascii_lowercase().as_str()) {
                return Err(fault(n, K::KeyWithoutEquals(id.to_string())));
            }
            keys.insert(id.to_string(), secret.to_string());
        }
        finish(profile, &mut keys)?;
        if keys.is_empty() {
            return Err(CredentialsError {
                line: None,
                kind: K::NoKeys,
            });
        }
        Ok(Credentials { keys })
    }

    /// Reads and parses a credentials file.
    pub fn load(path: &Path) -> Result<Credentials, CredentialsFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|source| CredentialsFileError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The secret of an access key id.
    pub fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(String::as_str)
    }

    /// Number of access keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id of `Credential=`.
    pub access_key_id: String,
    /// `YYYYMMDD` of the credential scope.
    pub date: String,
    /// The region of the scope.
    pub region: String,
    /// The service of the scope (`connect`, `rekognition`).
    pub service: String,
    /// The signed header names, lowercase, in the order given.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

fn incomplete(message: impl Into<String>) -> ApiError {
    ApiError::with_status("IncompleteSignatureException", 403, message)
}

fn invalid_signature(message: impl Into<String>) -> ApiError {
    ApiError::with_status("InvalidSignatureException", 403, message)
}

impl Authorization {
    /// Parses the header value.
    ///
    /// ```
    /// let a = rollcall::serve::Authorization::parse(
    ///     "AWS4-HMAC-SHA256 Credential=AK/20250101/us-east-1/connect/aws4_request, \
    ///      SignedHeaders=host;x-amz-date, Signature=abcd",
    /// ).unwrap();
    /// assert_eq!((a.access_key_id.as_str(), a.service.as_str()), ("AK", "connect"));
    /// assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
    /// ```
    pub fn parse(value: &str) -> Result<Authorization, ApiError> {
        let rest = value
            .trim()
            .strip_prefix("AWS4-HMAC-SHA256")
            .ok_or_else(|| {
                incomplete(
                    "Authorization header: only AWS4-HMAC-SHA256 (Signature Version 4) is accepted",
                )
            })?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some((k, v)) = part.split_once('=') {
                match k.trim() {
                    "Credential" => credential = Some(v.trim()),
                    "SignedHeaders" => signed = Some(v.trim()),
                    "Signature" => signature = Some(v.trim()),
                    _ => {}
                }
            }
        }
        let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature)
        else {
            return Err(incomplete(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters",
            ));
        };
        Self::from_parts(credential, signed, signature)
    }

    /// Checks and splits the three parts, as found in the header or in the
    /// query string of a presigned URL.
    fn from_parts(
        credential: &str,
        signed: &str,
        signature: &str,
    ) -> Result<Authorization, ApiError> {
        let scope: Vec<&str> = credential.split('/').collect();
        let [id, date, region, service, terminal] = scope[..] else {
            return Err(incomplete(format!(
                "Credential '{credential}': expected ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"
            )));
        };
        if terminal != "aws4_request"
            || id.is_empty()
            || date.len() != 8
            || !date.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(incomplete(format!(
                "Credential '{credential}': expected ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request"
            )));
        }
        if signature.is_empty() || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(incomplete("Signature: expected a hex string"));
        }
        let signed_headers: Vec<String> = signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        if signed_headers.iter().any(String::is_empty) {
            return Err(incomplete("SignedHeaders: empty header name"));
        }
        Ok(Authorization {
            access_key_id: id.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            service: service.to_string(),
            signed_headers,
            signature: signature.to_ascii_lowercase(),
        })
    }
}

/// Seconds since the epoch of an `X-Amz-Date` (`20250101T120000Z`).
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Percent-encodes with the SigV4 rules: everything but `A-Za-z0-9-_.~`
/// (and `/` when `keep_slash`).
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (and `+` as a space in query strings when `plus`).
pub(crate) fn percent_decode(input: &str, plus: bool) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The canonical query string: every pair decoded, re-encoded with the
/// SigV4 rules and sorted.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k, false), false),
                uri_encode(&percent_decode(v, false), false),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a signature is computed over.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as sent (still percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: &'a [u8],
    /// The service being called (`rekognition`, `connect`): the credential
    /// scope must name it.
    pub service: &'a str,
    /// A header the signature must cover besides `host`, for the protocols
    /// that choose the operation by a header (`x-amz-target`).
    pub operation_header: Option<&'a str>,
}

/// The signature (hex) of a request under a secret, as the SDKs compute it.
/// `amz_date` is the `X-Amz-Date` value.
pub fn signature(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    amz_date: &str,
    secret: &str,
) -> String {
    signature_over(req, auth, amz_date, secret, &hex(&Sha256::digest(req.body)))
}

/// [`signature`] with the hex SHA-256 of the body already computed.
fn signature_over(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    amz_date: &str,
    secret: &str,
    payload_hash: &str,
) -> String {
    let mut canonical_headers = String::new();
    for name in &auth.signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    let path = if req.path.is_empty() { "/" } else { req.path };
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(path.as_bytes(), true),
        canonical_query(req.query),
        canonical_headers,
        auth.signed_headers.join(";"),
        payload_hash
    );
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    let k_region = hmac(&k_date, auth.region.as_bytes());
    let k_service = hmac(&k_region, auth.service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

/// The SigV4 parameters of a presigned URL's query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    /// Credential, signed headers and signature, as in the header form.
    pub auth: Authorization,
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `X-Amz-Expires`: seconds the URL stays valid after `amz_date`.
    pub expires: i64,
}

/// The longest `X-Amz-Expires` AWS accepts: 7 days.
pub const MAX_PRESIGN_EXPIRES_SECS: i64 = 7 * 24 * 3600;

impl Presigned {
    /// The presigned-URL parameters of a query string: `Ok(None)` when it
    /// has no `X-Amz-Signature` (an ordinary request).
    ///
    /// ```
    /// use rollcall::serve::Presigned;
    /// let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fconnect%2Faws4_request\
    ///          &X-Amz-Date=20250101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab12";
    /// let p = Presigned::parse(q).unwrap().unwrap();
    /// assert_eq!((p.auth.access_key_id.as_str(), p.expires), ("AK", 60));
    /// assert!(Presigned::parse("maxResults=5").unwrap().is_none());
    /// assert!(Presigned::parse("X-Amz-Signature=ab12").is_err());
    /// ```
    pub fn parse(query: &str) -> Result<Option<Presigned>, ApiError> {
        let mut params: HashMap<String, String> = HashMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = String::from_utf8_lossy(&percent_decode(k, false)).into_owned();
            if k.starts_with("X-Amz-") {
                let v = String::from_utf8_lossy(&percent_decode(v, false)).into_owned();
                params.insert(k, v);
            }
        }
        if !params.contains_key("X-Amz-Signature") {
            return Ok(None);
        }
        let get = |name: &str| {
            params
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| incomplete(format!("presigned URL: missing query parameter {name}")))
        };
        if get("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
            return Err(incomplete(
                "X-Amz-Algorithm: only AWS4-HMAC-SHA256 (Signature Version 4) is accepted",
            ));
        }
        let auth = Authorization::from_parts(
            get("X-Amz-Credential")?,
            get("X-Amz-SignedHeaders")?,
            get("X-Amz-Signature")?,
        )?;
        let amz_date = get("X-Amz-Date")?.to_string();
        if parse_amz_date(&amz_date).is_none() {
            return Err(incomplete(format!(
                "X-Amz-Date '{amz_date}': expected YYYYMMDD'T'HHMMSS'Z'"
            )));
        }
        let expires = get("X-Amz-Expires")?
            .parse::<i64>()
            .ok()
            .filter(|e| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(e))
            .ok_or_else(|| {
                incomplete(format!(
                    "X-Amz-Expires: expected whole seconds from 1 to {MAX_PRESIGN_EXPIRES_SECS}"
                ))
            })?;
        Ok(Some(Presigned {
            auth,
            amz_date,
            expires,
        }))
    }
}

/// The query string without its `X-Amz-Signature` pair: what a presigned
/// URL's signature covers.
fn without_signature(query: &str) -> String {
    query
        .split('&')
        .filter(|p| {
            let k = p.split_once('=').map_or(*p, |(k, _)| k);
            percent_decode(k, false) != b"X-Amz-Signature"
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn same_signature(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn unknown_key() -> ApiError {
    ApiError::with_status(
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Who may call: anyone (loopback default) or holders of the keys of a
/// credentials file.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Unsigned requests and any well-formed signature are accepted.
    #[default]
    Open,
    /// Every request must carry a valid signature by one of these keys.
    Verify(Credentials),
}

impl Auth {
    /// Checks a request; `Err` is the 403 AWS answers.
    pub fn check(&self, req: &SignedRequest<'_>) -> Result<(), ApiError> {
        let header = req.headers.get("authorization").map(|v| {
            v.to_str()
                .map_err(|_| incomplete("Authorization header: not ASCII"))
        });
        // A presigned URL carries the signature in its query string instead.
        let presigned = match header {
            None => Presigned::parse(req.query)?,
            Some(_) => None,
        };
        let creds = match self {
            Auth::Open => {
                if let Some(h) = header {
                    Authorization::parse(h?)?;
                }
                return Ok(());
            }
            Auth::Verify(c) => c,
        };
        if let Some(p) = presigned {
            return Self::check_presigned(creds, req, &p);
        }
        let Some(h) = header else {
            return Err(ApiError::with_status(
                "MissingAuthenticationTokenException",
                403,
                "Missing Authentication Token: the request carries no AWS Signature Version 4 Authorization header",
            ));
        };
        let auth = Authorization::parse(h?)?;
        let Some(secret) = creds.secret(&auth.access_key_id) else {
            return Err(unknown_key());
        };
        let amz_date = req
            .headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| incomplete("X-Amz-Date header is missing"))?;
        verify(req, &auth, amz_date, secret, "SignedHeaders", |at, now| {
            if (now - at).abs() > MAX_SKEW_SECS {
                return Err(invalid_signature(format!(
                    "Signature expired: {amz_date} is more than 15 minutes away from the server time (epoch {now})"
                )));
            }
            Ok(())
        })
    }

    /// A presigned URL: valid from `X-Amz-Date` (15 minutes of clock skew
    /// allowed) until `X-Amz-Expires` seconds after it; the signature covers
    /// the query string without `X-Amz-Signature`.
    fn check_presigned(
        creds: &Credentials,
        req: &SignedRequest<'_>,
        p: &Presigned,
    ) -> Result<(), ApiError> {
        let Some(secret) = creds.secret(&p.auth.access_key_id) else {
            return Err(unknown_key());
        };
        let query = without_signature(req.query);
        let signed = SignedRequest {
            query: &query,
            ..*req
        };
        let amz_date = p.amz_date.as_str();
        verify(
            &signed,
            &p.auth,
            amz_date,
            secret,
            "X-Amz-SignedHeaders",
            |at, now| {
                if at - now > MAX_SKEW_SECS {
                    return Err(invalid_signature(format!(
                    "Signature not yet current: {amz_date} is more than 15 minutes ahead of the server time (epoch {now})"
                )));
                }
                if now > at + p.expires {
                    return Err(invalid_signature(format!(
                    "Signature expired: the presigned URL of {amz_date} expired after {} seconds (server time epoch {now})",
                    p.expires
                )));
                }
                Ok(())
            },
        )
    }
}

/// The checks both forms of a signature share, in this order: the date is
/// well-formed and matches the credential's, `fresh(at, now)` accepts the
/// time (each form has its own window), `host` is signed (`headers_param`
/// names where the signed headers are listed), and the signature is the
/// one `secret` gives for `req`.
fn verify(
    req: &SignedRequest<'_>,
    auth: &Authorization,
    amz_date: &str,
    secret: &str,
    headers_param: &str,
    fresh: impl FnOnce(i64, i64) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    let at = parse_amz_date(amz_date).ok_or_else(|| {
        incomplete(format!(
            "X-Amz-Date '{amz_date}': expected YYYYMMDD'T'HHMMSS'Z'"
        ))
    })?;
    if !amz_date.starts_with(&auth.date) {
        return Err(invalid_signature(format!(
            "Credential date {} does not match X-Amz-Date {amz_date}",
            auth.date
        )));
    }
    fresh(at, now_secs())?;
    if auth.service != req.service {
        return Err(invalid_signature(format!(
            "Credential should be scoped to correct service: '{}', not '{}'",
            req.service,
            auth.service.chars().take(64).collect::<String>()
        )));
    }
    for must in std::iter::once("host").chain(req.operation_header) {
        if !auth.signed_headers.iter().any(|h| h == must) {
            return Err(invalid_signature(format!(
                "{headers_param} must include '{must}'"
            )));
        }
    }
    // Always the hash of the body received: what the SDKs sign for these
    // services. A request that claims another hash, or UNSIGNED-PAYLOAD,
    // is refused.
    let body_hash = hex(&Sha256::digest(req.body));
    let claimed = req
        .headers
        .get("x-amz-content-sha256")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Some(claimed) = claimed {
        if claimed == "UNSIGNED-PAYLOAD" {
            return Err(invalid_signature(
                "X-Amz-Content-Sha256: UNSIGNED-PAYLOAD is not accepted by this service; \
                 sign the SHA-256 of the body",
            ));
        }
        if !claimed.eq_ignore_ascii_case(&body_hash) {
            return Err(invalid_signature(
                "X-Amz-Content-Sha256: the provided header does not match the SHA-256 of the body received",
            ));
        }
    }
    let expected = signature_over(req, auth, amz_date, secret, &body_hash);
    if same_signature(&expected, &auth.signature) {
        Ok(())
    } else {
        Err(invalid_signature(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_date_parses_to_epoch() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("2015-08-30T12:36Z"), None);
        assert_eq!(parse_amz_date("20151330T123600Z"), None);
    }

    #[test]
    fn percent_decoding_survives_truncated_escapes() {
        assert_eq!(percent_decode("a%2Fb", false), b"a/b");
        assert_eq!(percent_decode("a%2", false), b"a%2");
        assert_eq!(percent_decode("%", false), b"%");
        assert_eq!(percent_decode("%zz", false), b"%zz");
    }

    /// The AWS SigV4 test suite's `get-vanilla` case.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "example.amazonaws.com".parse().unwrap());
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let auth = Authorization::parse(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )
        .unwrap();
        let req = SignedRequest {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            body: b"",
            service: "service",
            operation_header: None,
        };
        let sig = signature(
            &req,
            &auth,
            "20150830T123600Z",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        );
        assert_eq!(sig, auth.signature);
    }

    #[test]
    fn malformed_headers_are_incomplete_not_panics() {
        for h in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=a/b",
            "AWS4-HMAC-SHA256 Credential=AK/2025/us/s/aws4_request, SignedHeaders=host, Signature=zz",
            "Basic dXNlcjpwYXNz",
        ] {
            let e = Authorization::parse(h).unwrap_err();
            assert_eq!(e.code, "IncompleteSignatureException", "{h}");
        }
    }
}
