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
