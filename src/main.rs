//! The `rollcall` command line: a thin layer over the library. Each
//! subcommand lives in its own module under `src/cli/`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
