//! Helpers for the HTTP tests: start `rollcall serve` on a free loopback
//! port, talk plain HTTP/1.1 (keep-alive) over a `TcpStream`, stop it with
//! SIGTERM.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running server process.
pub struct Server {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `rollcall serve --data DIR --listen 127.0.0.1:0 EXTRA...`.
    pub fn start(data: &Path, extra: &[&str]) -> Server {
        Self::spawn(Command::new(env!("CARGO_BIN_EXE_rollcall")), data, extra)
    }

    /// Starts the server as [`Server::start`] does, under an open-file
    /// limit of `nofile` (through `sh -c 'ulimit -n N; exec ...'`).
    pub fn start_with_file_limit(data: &Path, extra: &[&str], nofile: u32) -> Server {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_rollcall"));
        Self::spawn(sh, data, extra)
    }

    fn spawn(mut command: Command, data: &Path, extra: &[&str]) -> Server {
        let mut child = command
            .arg("serve")
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rollcall serve");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the address line");
        let addr = line
            .trim()
            .rsplit("http://")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, addr }
    }

    /// A new keep-alive connection.
    pub fn conn(&self) -> Conn {
        Conn::open(self.addr)
    }

    /// One request on a fresh connection.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.conn()
            .request(method, path, headers, body)
            .expect("request")
    }

    /// A Rekognition call.
    pub fn rekognition(&self, op: &str, body: &str) -> Resp {
        let target = format!("RekognitionService.{op}");
        self.call(
            "POST",
            "/",
            &[
                ("X-Amz-Target", &target),
                ("Content-Type", "application/x-amz-json-1.1"),
            ],
            body.as_bytes(),
        )
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..200 {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The AWS error code: `x-amzn-ErrorType` or `__type`.
    pub fn error_type(&self) -> String {
        if let Some(t) = self.header("x-amzn-errortype") {
            return t.to_string();
        }
        self.json()["__type"].as_str().unwrap_or("").to_string()
    }
}

/// A keep-alive HTTP/1.1 connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Conn {
    /// Connects.
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).ok();
        s.set_read_timeout(Some(Duration::from_secs(60))).ok();
        Conn {
            reader: BufReader::new(s),
            addr,
        }
    }

    /// The socket, for reading what the server does next.
    pub fn into_stream(self) -> TcpStream {
        self.reader.into_inner()
    }

    /// Sends one request and reads its response.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Resp> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let stream = self.reader.get_mut();
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        stream.write_all(&msg)?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<Resp> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    len = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }
}

/// Seeds `DIR` with a Connect instance `demo` of `users` generated users
/// and its groups (through the library, as `rollcall connect import` does).
pub fn seed_connect(dir: &Path, users: usize) {
    let h = rollcall::r#gen::hierarchy();
    let engine = rollcall::directory::Engine::open(dir).expect("open");
    let mut lines = Vec::new();
    for u in rollcall::r#gen::users(users, 42, &h) {
        lines.extend_from_slice(serde_json::to_string(&u).unwrap().as_bytes());
        lines.push(b'\n');
    }
    engine
        .import("demo", &lines[..], Some(h.groups.clone()))
        .expect("import");
}

/// `s` as a URL path segment or query value: RFC 3986 unreserved bytes
/// kept, every other byte `%XX` (written here, not taken from the server's
/// SigV4 code).
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
