//! The REPL's line editor helper: continuation of unfinished input, tab
//! completion from the open directory, and colouring.

use std::borrow::Cow;

use rollcall::criteria::StringField;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};

/// What completion offers besides the language's own words: the open
/// directory's hierarchy group ids, tag keys and proficiency names/values.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Hierarchy group ids.
    pub groups: Vec<String>,
    /// Tag keys.
    pub tag_keys: Vec<String>,
    /// Proficiency attribute names and values.
    pub proficiencies: Vec<String>,
}

/// The keywords of the text language.
pub const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "eq",
    "sw",
    "co",
    "under",
    "in",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    "hierarchy",
    "proficiency",
    "tag",
];

/// The meta commands.
pub const COMMANDS: &[&str] = &[
    ":help",
    ":explain",
    ":json",
    ":aws",
    ":count",
    ":limit",
    ":next",
    ":instance",
    ":fields",
    ":quit",
];

const PROFICIENCY_FIELDS: &[&str] = &["name", "value", "level"];

/// True when `input` is not finished and the next line continues it: an
/// open parenthesis, bracket or quote, a trailing `and`/`or`, or `:aws`
/// waiting for (the rest of) its JSON.
pub fn is_incomplete(input: &str) -> bool {
    let text = input.trim();
    if let Some(rest) = text.strip_prefix(":aws") {
        let rest = rest.trim();
        return rest.is_empty()
            || matches!(serde_json::from_str::<serde_json::Value>(rest), Err(e) if e.is_eof());
    }
    let query = match text.split_once(char::is_whitespace) {
        Some((":explain" | ":json" | ":count", q)) => q,
        _ if text.starts_with(':') || text.is_empty() => return false,
        _ => text,
    };
    matches!(rollcall::syntax::parse(query), Err(e) if e.is_incomplete())
}

/// The rustyline helper of the REPL.
pub struct ReplHelper {
    /// Completion words from the open directory.
    pub vocabulary: Vocabulary,
    /// Colour the input line.
    pub color: bool,
}

fn quote_if_needed(word: &str) -> String {
    let bare = word
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:-".contains(c))
        && !["and", "or"].contains(&word.to_ascii_lowercase().as_str());
    if bare {
        word.to_string()
    } else {
        serde_json::Value::String(word.to_string()).to_string()
    }
}

impl ReplHelper {
    /// The words that can complete `word`, given the word before it.
    pub fn candidates(&self, line_before: &str, word: &str) -> Vec<String> {
        let lower = word.to_lowercase();
        let mut words = line_before
            .split(|c: char| c.is_whitespace() || c == '(' || c == '[')
            .filter(|w| !w.is_empty())
            .rev()
            .map(str::to_lowercase);
        let previous = words.next().unwrap_or_default();
        let before_previous = words.next().unwrap_or_default();
        let mut pool: Vec<String> = Vec::new();
        if line_before.trim().is_empty() && word.starts_with(':') {
            pool.extend(COMMANDS.iter().map(|s| s.to_string()));
        } else if word.starts_with("tag.") {
            pool.extend(
                self.vocabulary
                    .tag_keys
                    .iter()
                    .map(|k| format!("tag.{}", quote_if_needed(k))),
            );
        } else if before_previous == "hierarchy" {
            pool.extend(self.vocabulary.groups.iter().cloned());
        } else if matches!(before_previous.as_str(), "name" | "value")
            && matches!(previous.as_str(), "eq" | "sw" | "co" | "=")
        {
            pool.extend(
                self.vocabulary
                    .proficiencies
                    .iter()
                    .map(|p| quote_if_needed(p)),
            );
        } else {
            pool.extend(KEYWORDS.iter().map(|s| s.to_string()));
            pool.extend(StringField::ALL.iter().map(|f| f.as_str().to_lowercase()));
            pool.extend(PROFICIENCY_FIELDS.iter().map(|s| s.to_string()));
            pool.extend(
                self.vocabulary
                    .tag_keys
                    .iter()
                    .map(|k| format!("tag.{}", quote_if_needed(k))),
            );
        }
        let mut out: Vec<String> = pool
            .into_iter()
            .filter(|c| c.to_lowercase().starts_with(&lower))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == '(' || c == '[')
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let word = &before[start..];
        let pairs = self
            .candidates(&before[..start], word)
            .into_iter()
            .map(|c| Pair {
                display: c.clone(),
                replacement: c,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// ANSI colours: keywords, fields, values, numbers, comments, commands.
mod paint {
    pub const KEYWORD: &str = "\x1b[1;35m";
    pub const FIELD: &str = "\x1b[36m";
    pub const VALUE: &str = "\x1b[32m";
    pub const NUMBER: &str = "\x1b[33m";
    pub const COMMENT: &str = "\x1b[2m";
    pub const COMMAND: &str = "\x1b[1;34m";
    pub const RESET: &str = "\x1b[0m";
}

/// Colours a line of input: keywords, field names and values differently.
pub fn colorize(line: &str) -> String {
    let mut out = String::with_capacity(line.len() * 2);
    let mut rest = line;
    let mut expect_value = false;
    while let Some(c) = rest.chars().next() {
        let (token, style) = if c == '"' {
            let mut end = rest.len();
            let mut escaped = false;
            for (i, ch) in rest.char_indices().skip(1) {
                if escaped {
                    escaped = false;
                } else if ch == '\\' {
                    escaped = true;
                } else if ch == '"' {
                    end = i + 1;
                    break;
                }
            }
            expect_value = false;
            (&rest[..end], Some(paint::VALUE))
        } else if c == '#' {
            let end = rest.find('\n').unwrap_or(rest.len());
            (&rest[..end], Some(paint::COMMENT))
        } else if c == ':' && out.trim().is_empty() {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], Some(paint::COMMAND))
        } else if c.is_alphanumeric() || c == '-' {
            let end = rest
                .find(|ch: char| !(ch.is_alphanumeric() || "._@:-".contains(ch)))
                .unwrap_or(rest.len());
            let word = &rest[..end];
            let lower = word.to_lowercase();
            let style = if expect_value {
                expect_value = false;
                if word
                    .chars()
                    .all(|ch| ch.is_ascii_digit() || ch == '-' || ch == '.')
                {
                    paint::NUMBER
                } else {
                    paint::VALUE
                }
            } else if lower.starts_with("tag.") {
                paint::FIELD
            } else if KEYWORDS.contains(&lower.as_str()) {
                expect_value = !matches!(
                    lower.as_str(),
                    "and" | "or" | "hierarchy" | "proficiency" | "tag"
                );
                paint::KEYWORD
            } else if StringField::parse(word).is_some()
                || PROFICIENCY_FIELDS.contains(&lower.as_str())
            {
                paint::FIELD
            } else {
                paint::VALUE
            };
            (word, Some(style))
        } else {
            if c == '=' {
                expect_value = true;
            }
            (&rest[..c.len_utf8()], None)
        };
        match style {
            Some(s) => {
                out.push_str(s);
                out.push_str(token);
                out.push_str(paint::RESET);
            }
            None => out.push_str(token),
        }
        rest = &rest[token.len()..];
    }
    out
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            Cow::Owned(colorize(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        self.color
    }
}

impl Helper for ReplHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ReplHelper {
        ReplHelper {
            vocabulary: Vocabulary {
                groups: vec!["g-emea".into(), "g-emea-de".into(), "g-amer".into()],
                tag_keys: vec!["Team".into(), "Cost Center".into()],
                proficiencies: vec!["Language".into(), "Spanish".into()],
            },
            color: true,
        }
    }

    #[test]
    fn unfinished_input_continues() {
        assert!(is_incomplete("(username sw jo or"));
        assert!(is_incomplete("username sw jo and"));
        assert!(is_incomplete("username eq \"jo"));
        assert!(is_incomplete(":aws"));
        assert!(is_incomplete(":aws {\"SearchCriteria\": {"));
        assert!(is_incomplete(":count (username sw jo"));
        assert!(!is_incomplete("username sw jo"));
        assert!(!is_incomplete("username xx jo"));
        assert!(!is_incomplete(":aws {}"));
        assert!(!is_incomplete(":next"));
        assert!(!is_incomplete(""));
    }

    #[test]
    fn completes_fields_keywords_groups_tags_and_proficiencies() {
        let h = helper();
        assert_eq!(h.candidates("", "userna"), vec!["username"]);
        assert_eq!(
            h.candidates("username ", "s"),
            vec!["securityprofileid", "sw"]
        );
        assert_eq!(
            h.candidates("hierarchy under ", "g-em"),
            vec!["g-emea", "g-emea-de"]
        );
        assert_eq!(
            h.candidates("", "tag."),
            vec!["tag.\"Cost Center\"", "tag.Team"]
        );
        assert_eq!(h.candidates("proficiency[name eq ", "La"), vec!["Language"]);
        assert_eq!(h.candidates("", ":ex"), vec![":explain"]);
    }

    #[test]
    fn colours_keywords_fields_and_values_differently() {
        let c = colorize("username sw \"jo\" and level ge 3");
        assert!(c.contains("\x1b[36musername"), "{c:?}");
        assert!(c.contains("\x1b[1;35msw"), "{c:?}");
        assert!(c.contains("\x1b[32m\"jo\""), "{c:?}");
        assert!(c.contains("\x1b[33m3"), "{c:?}");
    }
}
