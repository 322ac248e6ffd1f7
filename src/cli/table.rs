//! The aligned result table of `rollcall query` and the REPL: username,
//! first and last name, routing profile, and the hierarchy path as names.

use rollcall::criteria::wire::UserSearchSummary;
use rollcall::records::Groups;
use unicode_width::UnicodeWidthStr;

/// The widest a cell may be before it is cut with `…`.
const MAX_CELL: usize = 40;

fn cut(text: &str) -> String {
    if text.width() <= MAX_CELL {
        return text.to_string();
    }
    let mut out = String::new();
    for c in text.chars() {
        if out.width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) >= MAX_CELL {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.width());
    format!("{text}{}", " ".repeat(fill))
}

/// Renders users as an aligned table (display width, so CJK names line up);
/// every column but the last (the hierarchy path) is cut at 40 columns.
pub fn render(users: &[UserSearchSummary], groups: &Groups) -> String {
    let header = [
        "Username",
        "First name",
        "Last name",
        "Routing profile",
        "Hierarchy",
    ];
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            let info = u.identity_info.clone().unwrap_or_default();
            let text = |v: Option<String>| cut(&v.unwrap_or_else(|| "-".into()));
            let path = u
                .hierarchy_group_id
                .as_deref()
                .map(|g| groups.path_names(g).join(" / "));
            [
                text(u.username.clone()),
                text(info.first_name),
                text(info.last_name),
                text(u.routing_profile_id.clone()),
                path.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.width());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut parts: Vec<String> = cells.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
        if let Some(last) = parts.last_mut() {
            *last = last.trim_end().to_string();
        }
        parts.join("  ")
    };
    let mut out = line(&header.map(String::from));
    out.push('\n');
    out.push_str(&line(&widths.map(|w| "─".repeat(w))));
    for row in &rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_align_by_display_width() {
        let u = |name: &str, first: &str| UserSearchSummary {
            username: Some(name.into()),
            identity_info: Some(rollcall::criteria::wire::IdentityInfoLite {
                first_name: Some(first.into()),
                last_name: None,
            }),
            ..Default::default()
        };
        let t = render(&[u("王芳", "王芳"), u("ann", "Ann")], &Groups::default());
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        // The first-name column starts at display column 10 on every row.
        let start = |line: &str, cell: &str| line.rfind(cell).map(|i| line[..i].width());
        assert_eq!(start(lines[0], "First name"), Some(10));
        assert_eq!(start(lines[2], "王芳"), Some(10));
        assert_eq!(start(lines[3], "Ann"), Some(10));
    }
}
