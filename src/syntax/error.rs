//! The one error type of the text language: what went wrong, where (a byte
//! span, plus line and column), and a message in words.
//!
//! Takes in a kind, a span and a message from the lexer, the grammar or the
//! lowering; gives out [`SyntaxError`], whose `Display` is one line
//! (`line L, column C: message`) and whose [`SyntaxError::render`] adds the
//! source line and a caret for the CLI and the REPL.

use std::ops::Range;

/// What kind of mistake a [`SyntaxError`] reports.
///
/// Each variant names an input that triggers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// Nothing but whitespace and comments: ``, `# only a comment`.
    Empty,
    /// Something other than what the grammar allows at that spot:
    /// `username xx jo`, `username eq`, `username eq a b`, `a eq b and`.
    Unexpected,
    /// A word where a condition should start that names no field:
    /// `nickname eq jo`.
    UnknownField,
    /// An opening parenthesis or bracket that is never closed:
    /// `(username eq a`, `proficiency[level ge 3`.
    Unclosed,
    /// A closing parenthesis or bracket with nothing open: `username eq a)`.
    UnmatchedClose,
    /// A quoted string that never ends: `username eq "jo`.
    UnterminatedString,
    /// A bad escape inside a quoted string: `"\q"`, `"\u12G4"`, `"\uD800"`.
    InvalidEscape,
    /// A level that does not fit a 32-bit integer:
    /// `proficiency[level ge 99999999999]`.
    NumberOutOfRange,
    /// A condition that breaks a rule of the criteria model:
    /// `username co "j"`, `username eq ""`, `proficiency[level in 4..2]`.
    InvalidCondition,
    /// A query beyond the request-wide limits (nesting depth 10, 100 leaf
    /// conditions): eleven nested groups.
    Limit,
    /// More than [`MAX_NESTING`](super::MAX_NESTING) parentheses or brackets
    /// open at once: `((((...` a hundred deep.
    TooDeep,
}

/// A text query that cannot be read, with where and why.
///
/// `Display` gives `line L, column C: message`; the message says in words
/// what was expected and never names grammar rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct SyntaxError {
    kind: SyntaxErrorKind,
    span: Range<usize>,
    line: usize,
    column: usize,
    message: String,
    incomplete: bool,
}

impl SyntaxError {
    /// Builds an error at `span` (byte offsets into `source`), working out
    /// its line and column.
    pub(crate) fn new(
        kind: SyntaxErrorKind,
        span: Range<usize>,
        message: impl Into<String>,
        source: &str,
    ) -> Self {
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let end = span.end.clamp(start, source.len());
        let before = &source[..start];
        let line = 1 + before.matches('\n').count();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = 1 + source[line_start..start].chars().count();
        let incomplete = matches!(
            kind,
            SyntaxErrorKind::Unclosed | SyntaxErrorKind::UnterminatedString
        );
        SyntaxError {
            kind,
            span: start..end,
            line,
            column,
            message: message.into(),
            incomplete,
        }
    }

    /// Marks the error as caused by the input ending too early.
    pub(crate) fn at_end(mut self) -> Self {
        self.incomplete = true;
        self
    }

    /// What kind of mistake this is.
    pub fn kind(&self) -> SyntaxErrorKind {
        self.kind
    }
    /// The byte range of the source at fault (may be empty: a spot).
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }
    /// The 1-based line of the span's start.
    pub fn line(&self) -> usize {
        self.line
    }
    /// The 1-based column of the span's start, counted in characters.
    pub fn column(&self) -> usize {
        self.column
    }
    /// What is wrong, in words (without the position).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the input ended early: an open parenthesis or bracket, an
    /// open quote, or a query that stops where more must follow (a trailing
    /// `and`/`or`, `username eq`). The REPL then reads another line.
    pub fn is_incomplete(&self) -> bool {
        self.incomplete
    }

    /// Draws the error for people: `line L, column C: message`, then the
    /// source line, then carets under the span (one at least).
    ///
    /// ```
    /// let err = rollcall::syntax::parse("username xx jo").unwrap_err();
    /// assert_eq!(
    ///     err.render("username xx jo"),
    ///     "line 1, column 10: expected a comparison (eq, sw, co) after field 'username', found 'xx'\n\
    ///      username xx jo\n         ^^\n"
    /// );
    /// ```
    pub fn render(&self, source: &str) -> String {
        let mut out = format!("{self}\n");
        let start = floor_char_boundary(source, self.span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let text = source[line_start..line_end].trim_end_matches('\r');
        out.push_str(text);
        out.push('\n');
        for c in source[line_start..start].chars() {
            out.push(if c == '\t' { '\t' } else { ' ' });
        }
        // The spot may sit past the shown text (after a trailing '\r').
        let end = self
            .span
            .end
            .clamp(start, (line_start + text.len()).max(start));
        let width = source[start..end].chars().count().max(1);
        out.push_str(&"^".repeat(width));
        out.push('\n');
        out
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
