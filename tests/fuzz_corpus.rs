//! Replays the fuzz corpora on stable: every file in `fuzz/corpus/<target>/`
//! goes through `rollcall::fuzzing::<target>` (`parse`, `decode`,
//! `sigv4_header`, `import_line`, `npy`, `faces_log`, `faces_snapshot`,
//! `photo_decode`, `dat`),
//! the same bodies the libFuzzer targets
//! run.

use std::fs;
use std::path::Path;

/// Runs `check` over every file of `fuzz/corpus/<target>/`; returns how many.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seen = 0;
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let data = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "fuzz_check failed on {}", path.display());
        seen += 1;
    }
    seen
}

#[test]
fn fuzz_corpus_parse() {
    let seen = replay("parse", rollcall::fuzzing::parse);
    assert!(seen >= 30, "only {seen} files in the parse corpus");
}

#[test]
fn fuzz_corpus_decode() {
    let seen = replay("decode", rollcall::fuzzing::decode);
    assert!(seen >= 20, "only {seen} files in the decode corpus");
}

#[test]
fn fuzz_corpus_sigv4_header() {
    let seen = replay("sigv4_header", rollcall::fuzzing::sigv4_header);
    assert!(seen >= 12, "only {seen} files in the sigv4_header corpus");
}

#[test]
fn fuzz_corpus_import_line() {
    let seen = replay("import_line", rollcall::fuzzing::import_line);
    assert!(seen >= 12, "only {seen} files in the import_line corpus");
}

#[test]
fn fuzz_corpus_dat() {
    let seen = replay("dat", rollcall::fuzzing::dat);
    assert!(seen >= 12, "only {seen} files in the dat corpus");
}

#[test]
fn fuzz_corpus_npy() {
    let seen = replay("npy", rollcall::fuzzing::npy);
    assert!(seen >= 12, "only {seen} files in the npy corpus");
}

#[test]
fn fuzz_corpus_faces_log() {
    let seen = replay("faces_log", rollcall::fuzzing::faces_log);
    assert!(seen >= 12, "only {seen} files in the faces_log corpus");
}

#[test]
fn fuzz_corpus_faces_snapshot() {
    let seen = replay("faces_snapshot", rollcall::fuzzing::faces_snapshot);
    assert!(seen >= 12, "only {seen} files in the faces_snapshot corpus");
}

#[test]
fn fuzz_corpus_photo_decode() {
    let seen = replay("photo_decode", rollcall::fuzzing::photo_decode);
    assert!(seen >= 12, "only {seen} files in the photo_decode corpus");
}

#[test]
fn corpus_seeds_do_what_their_names_say() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    for entry in fs::read_dir(&dir).expect("the corpus directory") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Ok(text) = String::from_utf8(fs::read(&path).expect("a corpus file")) else {
            continue;
        };
        let parsed = rollcall::syntax::parse(&text);
        let should_fail = name.starts_with("err-")
            || matches!(
                name.as_str(),
                "deep-too"
                    | "deep-brackets"
                    | "empty"
                    | "only-comment"
                    | "tab-unicode"
                    | "tag-space"
                    | "mixed-closers"
                    | "tag-keywords"
                    | "nul"
            );
        assert_eq!(parsed.is_err(), should_fail, "{name}: {parsed:?}");
    }
}
