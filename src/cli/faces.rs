//! `rollcall faces import`: loads many face vectors from one `.npy` file
//! into a collection at once (one atomic snapshot), with a progress bar on
//! a terminal.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use rollcall::faces::{
    npy_bytes, random_vectors, read_npy_sized, Engine, Error, NpyError, NpyRows,
};
use rollcall::{AwsError, ErrorType};

/// Face bulk operations.
#[derive(Debug, Subcommand)]
pub enum FacesCommand {
    /// Index every row of a float32 `.npy` file (shape `(n, d)`) as a face.
    Import {
        /// Data directory.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The (existing) collection.
        #[arg(long)]
        collection: String,
        /// The vectors, a float32 `.npy` file.
        vectors: PathBuf,
        /// One `ExternalImageId` per line, one line per row.
        #[arg(long)]
        external_ids: Option<PathBuf>,
        /// Write the new `FaceId`s here, one per line in row order.
        #[arg(long)]
        face_ids: Option<PathBuf>,
    },
    /// Write random unit vectors as a float32 `.npy` file (for trying things out).
    Random {
        /// Number of vectors.
        #[arg(long, default_value_t = 1)]
        rows: usize,
        /// Vector length (ignored with `--like`).
        #[arg(long, default_value_t = 128)]
        dim: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Make noisy copies of a row of this `.npy` file instead.
        #[arg(long)]
        like: Option<PathBuf>,
        /// The row of `--like` to copy.
        #[arg(long, default_value_t = 0)]
        row: usize,
        /// Noise per component for `--like` copies.
        #[arg(long, default_value_t = 0.01)]
        noise: f32,
        /// Output `.npy` file.
        out: PathBuf,
    },
}

fn io_error(path: &std::path::Path, e: impl std::fmt::Display) -> AwsError {
    AwsError::invalid_parameter(format!("'{}': {e}", path.display()))
}

/// Runs the subcommand.
pub fn run(cmd: FacesCommand) -> ExitCode {
    let result = match cmd {
        FacesCommand::Import {
            data,
            collection,
            vectors,
            external_ids,
            face_ids,
        } => import(data, collection, vectors, external_ids, face_ids),
        FacesCommand::Random {
            rows,
            dim,
            seed,
            like,
            row,
            noise,
            out,
        } => random(rows, dim, seed, like, row, noise, out),
    };
    match result {
        Ok(v) => super::print_json(&v),
        Err(e) => super::aws_fail(&e),
    }
}

fn random(
    rows: usize,
    dim: usize,
    seed: u64,
    like: Option<PathBuf>,
    row: usize,
    noise: f32,
    out: PathBuf,
) -> Result<serde_json::Value, AwsError> {
    let base = like
        .map(|p| {
            let file = File::open(&p).map_err(|e| io_error(&p, e))?;
            let len = file.metadata().map_err(|e| io_error(&p, e))?.len();
            let m = read_npy_sized(BufReader::new(file), len).map_err(|e| {
                AwsError::new(
                    ErrorType::InvalidImageFormatException,
                    format!("'{}': {e}", p.display()),
                )
            })?;
            m.data
                .get(row * m.dim..(row + 1) * m.dim)
                .map(<[f32]>::to_vec)
                .ok_or_else(|| {
                    AwsError::invalid_parameter(format!(
                        "--row {row}: '{}' has {} rows",
                        p.display(),
                        m.rows
                    ))
                })
        })
        .transpose()?;
    let dim = base.as_ref().map_or(dim, Vec::len);
    if dim == 0 {
        return Err(AwsError::invalid_parameter("--dim must be at least 1"));
    }
    let data = random_vectors(rows, dim, seed, base.as_deref().map(|b| (b, noise)));
    std::fs::write(&out, npy_bytes(rows, dim, &data)).map_err(|e| io_error(&out, e))?;
    Ok(serde_json::json!({ "Rows": rows, "Dimension": dim, "File": out.display().to_string() }))
}

fn import(
    data: Option<PathBuf>,
    collection: String,
    vectors: PathBuf,
    external_ids: Option<PathBuf>,
    face_ids: Option<PathBuf>,
) -> Result<serde_json::Value, AwsError> {
    {
        let engine = Engine::open(super::data_dir(data))?;
        let file = File::open(&vectors).map_err(|e| io_error(&vectors, e))?;
        // The length bounds what the header may claim: nothing is
        // allocated for data the file does not hold.
        let len = file.metadata().map_err(|e| io_error(&vectors, e))?.len();
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(len);
            if let Ok(style) =
                ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} ({eta})")
            {
                bar.set_style(style);
            }
            bar.set_message("reading");
            bar
        } else {
            ProgressBar::hidden()
        };
        // A file that is not a float32 .npy: InvalidImageFormatException,
        // whether its header says so or its data does, mid-import.
        let bad = |e: NpyError| Error::InvalidImage(format!("'{}': {e}", vectors.display()));
        let bad_file = |e: NpyError| AwsError::from(bad(e));
        let ids = external_ids
            .map(|p| {
                std::fs::read_to_string(&p)
                    .map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
                    .map_err(|e| io_error(&p, e))
            })
            .transpose()?;
        let input = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
        let mut stream = NpyRows::open(input, len).map_err(bad_file)?;
        let (rows, dim) = (stream.rows(), stream.dim());
        bar.set_message("importing");
        let new_ids = if stream.row_major() {
            // Rows stream into the new snapshot, 64 MiB of them at a time,
            // so that a file larger than memory imports too.
            let chunk = ((64 << 20) / (4 * dim.max(1))).max(1);
            engine.import_faces_streamed(&collection, dim, rows, ids, || {
                stream.next_rows(chunk).map_err(bad)
            })?
        } else {
            // Column-major: read whole, then transposed.
            drop(stream);
            bar.set_position(0);
            let file = File::open(&vectors).map_err(|e| io_error(&vectors, e))?;
            let input = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
            let m = read_npy_sized(input, len).map_err(bad_file)?;
            engine.import_faces(&collection, m.data, dim, ids)?
        };
        bar.finish_and_clear();
        if let Some(path) = face_ids {
            let mut out =
                std::io::BufWriter::new(File::create(&path).map_err(|e| io_error(&path, e))?);
            for id in &new_ids {
                writeln!(out, "{id}").map_err(|e| io_error(&path, e))?;
            }
            out.flush().map_err(|e| io_error(&path, e))?;
        }
        Ok(serde_json::json!({
            "CollectionId": collection,
            "IndexedFaces": rows,
            "FaceModelVersion": format!("vector-{dim}"),
        }))
    }
}
