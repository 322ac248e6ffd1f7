//! The pre-scan that runs before the grammar: it splits the source into
//! rough tokens (words, quoted strings, punctuation), skipping whitespace
//! and comments.
//!
//! Takes in the source text; gives out a [`Scan`] (token spans, the
//! parentheses left open, the closers that matched nothing) or the first
//! string error (unterminated, bad escape) or nesting beyond
//! [`MAX_NESTING`]. Checking depth here, without recursion, is what keeps
//! the recursive pest parser off deep inputs. [`decode_quoted`] is also
//! what the lowering uses to read a quoted value, so the two agree.

use std::ops::Range;

use super::error::{SyntaxError, SyntaxErrorKind};
use super::MAX_NESTING;
use crate::criteria::is_word_byte;

/// What the pre-scan learnt about the source.
pub(crate) struct Scan {
    /// Every token, in order (comments and whitespace left out).
    pub tokens: Vec<Range<usize>>,
    /// Parentheses and brackets still open at the end: (offset, `(` or `[`).
    pub open: Vec<(usize, u8)>,
    /// Offsets of `)` and `]` that closed nothing.
    pub unmatched: Vec<usize>,
}

impl Scan {
    /// The byte range from the first token to the end of the last one.
    pub fn content(&self) -> Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(a), Some(b)) => a.start..b.end,
            _ => 0..0,
        }
    }

    /// The token containing `pos`, or starting there.
    pub fn token_at(&self, pos: usize) -> Option<Range<usize>> {
        self.tokens
            .iter()
            .find(|t| t.start <= pos && pos < t.end)
            .cloned()
    }

    /// The text just before `pos`: the part of a token cut at `pos`, or the
    /// last whole token ending at or before `pos`.
    pub fn before(&self, pos: usize) -> Option<Range<usize>> {
        if let Some(t) = self.token_at(pos)
            && t.start < pos
        {
            return Some(t.start..pos);
        }
        self.tokens.iter().rev().find(|t| t.end <= pos).cloned()
    }
}

/// Scans `src`; see the module doc.
pub(crate) fn scan(src: &str) -> Result<Scan, SyntaxError> {
    let bytes = src.as_bytes();
    let mut scan = Scan {
        tokens: Vec::new(),
        open: Vec::new(),
        unmatched: Vec::new(),
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' => {
                let (_, end) = decode_quoted(src, i)?;
                scan.tokens.push(i..end);
                i = end;
            }
            b'(' | b'[' => {
                scan.open.push((i, b));
                if scan.open.len() > MAX_NESTING {
                    return Err(SyntaxError::new(
                        SyntaxErrorKind::TooDeep,
                        i..i + 1,
                        format!(
                            "nested too deeply: more than {MAX_NESTING} parentheses or brackets open at once"
                        ),
                        src,
                    ));
                }
                scan.tokens.push(i..i + 1);
                i += 1;
            }
            b')' | b']' => {
                if scan.open.pop().is_none() {
                    scan.unmatched.push(i);
                }
                scan.tokens.push(i..i + 1);
                i += 1;
            }
            _ if is_word_byte(b) => {
                let start = i;
                while i < bytes.len() && is_word_byte(bytes[i]) {
                    i += 1;
                }
                scan.tokens.push(start..i);
            }
            _ => {
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                scan.tokens.push(i..i + len);
                i += len;
            }
        }
    }
    Ok(scan)
}

/// Reads the JSON-style quoted string that starts at `start` (a `"`):
/// gives its decoded text and the offset just past the closing quote.
///
/// Escapes: `\" \\ \/ \b \f \n \r \t \uXXXX` (surrogate pairs joined).
/// Raw characters, line breaks included, stand for themselves.
pub(crate) fn decode_quoted(src: &str, start: usize) -> Result<(String, usize), SyntaxError> {
    let unterminated = || {
        SyntaxError::new(
            SyntaxErrorKind::UnterminatedString,
            start..src.len(),
            "unterminated string: no closing '\"'",
            src,
        )
    };
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(c) = src.get(i..).and_then(|r| r.chars().next()) else {
            return Err(unterminated());
        };
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let Some(e) = src[i + 1..].chars().next() else {
                    return Err(unterminated());
                };
                let simple = match e {
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '/' => Some('/'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    _ => None,
                };
                if let Some(s) = simple {
                    out.push(s);
                    i += 2;
                } else if e == 'u' {
                    let (ch, end) = decode_unicode_escape(src, i)?;
                    out.push(ch);
                    i = end;
                } else {
                    let end = i + 1 + e.len_utf8();
                    let shown = if e.is_control() {
                        format!("\\{}", e.escape_default())
                    } else {
                        src[i..end].to_owned()
                    };
                    return Err(SyntaxError::new(
                        SyntaxErrorKind::InvalidEscape,
                        i..end,
                        format!(
                            "invalid escape '{shown}' in string; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX"
                        ),
                        src,
                    ));
                }
            }
            _ => {
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
}

/// Reads four hex digits after `\u` at `at`, if they are there.
fn hex4(src: &str, at: usize) -> Option<u32> {
    let digits = src.get(at..at + 4)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// Decodes `\uXXXX` (or a surrogate pair `\uD83D\uDE00`) starting at `i`
/// (the backslash); gives the character and the offset after the escape.
fn decode_unicode_escape(src: &str, i: usize) -> Result<(char, usize), SyntaxError> {
    let Some(hi) = hex4(src, i + 2) else {
        let end = src[i + 2..]
            .char_indices()
            .take(4)
            .take_while(|(_, c)| c.is_ascii_hexdigit())
            .last()
            .map_or(i + 2, |(k, c)| i + 2 + k + c.len_utf8());
        let shown_end = src[end..]
            .chars()
            .next()
            .map_or(end, |c| end + c.len_utf8());
        return Err(SyntaxError::new(
            SyntaxErrorKind::InvalidEscape,
            i..shown_end,
            format!(
                "invalid escape '{}' in string; \\u needs four hex digits",
                &src[i..shown_end]
            ),
            src,
        ));
    };
    let lone = |end: usize| {
        SyntaxError::new(
            SyntaxErrorKind::InvalidEscape,
            i..end,
            format!(
                "invalid escape '{}' in string: a lone surrogate; write the character or a \\uD800-\\uDBFF \\uDC00-\\uDFFF pair",
                &src[i..end]
            ),
            src,
        )
    };
    match hi {
        0xD800..=0xDBFF => {
            let lo = if src.get(i + 6..i + 8) == Some("\\u") {
                hex4(src, i + 8)
            } else {
                None
            };
            match lo {
                Some(lo @ 0xDC00..=0xDFFF) => {
                    let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    char::from_u32(code)
                        .map(|c| (c, i + 12))
                        .ok_or_else(|| lone(i + 12))
                }
                _ => Err(lone(i + 6)),
            }
        }
        0xDC00..=0xDFFF => Err(lone(i + 6)),
        _ => char::from_u32(hi)
            .map(|c| (c, i + 6))
            .ok_or_else(|| lone(i + 6)),
    }
}
