//! The credentials file of `rollcall serve --credentials`: every line is
//! read by its form (an AWS CLI ini line with a known key, or a plain
//! `ID SECRET` pair), and a line of neither form is refused by number
//! instead of skipped.

use rollcall::serve::Credentials;

#[test]
fn a_plain_pair_whose_secret_holds_equals_is_a_pair() {
    let c = Credentials::parse("AKID abc=def\n").unwrap();
    assert_eq!(c.secret("AKID"), Some("abc=def"));
    let c = Credentials::parse("AKID:abc=def\nAK2 x:y\nAK3,s3\nAK4  :  s4\n").unwrap();
    assert_eq!(c.secret("AKID"), Some("abc=def"));
    assert_eq!(c.secret("AK2"), Some("x:y"));
    assert_eq!(c.secret("AK3"), Some("s3"));
    assert_eq!(c.secret("AK4"), Some("s4"));
    assert_eq!(c.len(), 4);
}

#[test]
fn an_aws_cli_credentials_file_is_read_with_its_other_settings_ignored() {
    let text = "\
# comment
; another comment
[default]
aws_access_key_id = AKIDEXAMPLE
AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY==
aws_session_token = IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH==
region = us-east-1
output = json

[profile other]
region: eu-west-1
aws_secret_access_key: s2
aws_access_key_id: AK2
s3 =
    max_concurrent_requests = 20
    addressing_style = path
cli_pager =

[services local]
connect =
  endpoint_url = http://localhost:4599
";
    let c = Credentials::parse(text).unwrap();
    assert_eq!(
        c.secret("AKIDEXAMPLE"),
        Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY==")
    );
    assert_eq!(c.secret("AK2"), Some("s2"));
    assert_eq!(c.len(), 2);
}

/// Each bad file and the line its error must name.
#[test]
fn a_line_of_neither_form_is_refused_by_number() {
    use rollcall::serve::CredentialsErrorKind as K;
    let cases = [
        (
            "AK1 s1\ncolour = blue\n",
            2,
            K::UnknownSetting("colour".into()),
        ),
        ("AK1 s1\nAKID=secret\n", 2, K::UnknownSetting("AKID".into())),
        ("AK1 s1\n\nlonely\n", 3, K::NotAPair),
        ("AK1 s1 extra\n", 1, K::NotAPair),
        ("AK1:\n", 1, K::NotAPair),
        (
            "[default]\naws_access_key_id = AK\n[other]\n",
            2,
            K::IdWithoutSecret,
        ),
        (
            "[default]\naws_secret_access_key = s\n",
            2,
            K::SecretWithoutId,
        ),
        (
            "aws_access_key_id =\naws_secret_access_key = s\n",
            1,
            K::NoValue("aws_access_key_id".into()),
        ),
        (
            "aws_access_key_id = A\naws_access_key_id = B\n",
            2,
            K::Repeated("aws_access_key_id".into()),
        ),
        (
            "aws_access_key_id AK\n",
            1,
            K::KeyWithoutEquals("aws_access_key_id".into()),
        ),
        ("[default\nAK s\n", 1, K::UnclosedSection),
    ];
    for (text, line, kind) in cases {
        let err = Credentials::parse(text).expect_err(text);
        assert_eq!(err.line, Some(line), "{text:?}: {err}");
        assert_eq!(err.kind, kind, "{text:?}: {err}");
        assert!(
            err.to_string().starts_with(&format!("line {line}: ")),
            "{text:?}: {err}"
        );
    }
    assert!(Credentials::parse("# nothing\n").is_err());
}

#[test]
fn serve_refuses_a_bad_credentials_file_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(
        &bad,
        "AKID secret\n[default]\nregion = us-east-1\nsecret_key = oops\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(["serve", "--data"])
        .arg(dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--credentials"])
        .arg(&bad)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A server that accepted the file would run until stopped.
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve started with a bad credentials file");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("secret_key"),
        "{err}"
    );
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing is created");
}
