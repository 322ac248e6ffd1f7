//! Running the `rollcall` binary (or any program) as a child process.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The `rollcall` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_rollcall");

/// Runs `rollcall ARGS`, writing `stdin` to it (then closing it).
pub fn rollcall(args: &[&str], stdin: &str) -> Output {
    run_program(BIN, args, stdin)
}

/// Runs `program ARGS`, writing `stdin` to it (then closing it).
pub fn run_program(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// The seed of a randomized test: `ROLLCALL_SEED` if set, else a fresh one;
/// printed, so that a failure can be replayed.
pub fn test_seed() -> u64 {
    let seed = std::env::var("ROLLCALL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed = {seed}");
    seed
}

/// The name libtest knows test `name` of module `module_path` by (the
/// module path without the crate), for running it alone in a child.
pub fn test_name(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{name}"),
        None => name.to_string(),
    }
}

/// The crash half of the kill -9 tests: runs test `test` of this test
/// binary alone in a child process with `envs`, waits (at most
/// `first_within`) for its first `ACK `/`TRY ` line, lets it run `after`
/// more, kills it with SIGKILL, and gives every such line it printed, from
/// the marker on (libtest may print `test NAME ... ` before the first).
pub fn run_then_kill(
    test: &str,
    envs: &[(&str, &std::ffi::OsStr)],
    first_within: std::time::Duration,
    after: std::time::Duration,
) -> Vec<String> {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(at) = line.find("ACK ").or_else(|| line.find("TRY ")) {
                let _ = tx.send(line[at..].to_string());
            }
        }
    });
    let first = rx.recv_timeout(first_within).expect("child acknowledges");
    std::thread::sleep(after);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    reader.join().expect("reader");
    std::iter::once(first).chain(rx.try_iter()).collect()
}
