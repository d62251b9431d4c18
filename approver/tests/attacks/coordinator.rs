//! The binary against a fake coordinator: its HTTP answers.

use super::*;

// ======================================================================================
// HTTP answers (the binary against a fake coordinator)
// ======================================================================================

pub type Handler = dyn Fn(&str, &[u8], &mut TcpStream) + Send + Sync;
/// Each request's line and body, as the fake coordinator received them.
pub type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

pub struct Fake {
    url: String,
    seen: Seen,
}

/// A coordinator that answers each connection with `handler` (request line, body).
pub fn coordinator(handler: Box<Handler>) -> Fake {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let mut len = 0;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            log.lock().unwrap().push((line.clone(), body.clone()));
            handler(&line, &body, &mut s);
        }
    });
    Fake { url, seen }
}

pub fn http(status: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend(body);
    r
}

pub struct Run {
    pub finished: bool,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

pub fn approver(args: &[&str], envs: &[(&str, &str)], stdin: &str, deadline: Duration) -> Run {
    let started = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_approver"));
    cmd.args(args)
        .env_remove("STRONGROOM_PASSPHRASE")
        .env("STRONGROOM_TOKEN", "token-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let (finished, success) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (true, status.success());
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (false, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        finished,
        success,
        stdout: String::from_utf8_lossy(&o.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&e.join().unwrap()).into_owned(),
        elapsed: started.elapsed(),
    }
}

pub fn show(url: &str) -> Run {
    approver(
        &["show", "--url", url, "--request", ID],
        &[],
        "",
        Duration::from_secs(60),
    )
}

pub fn real_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
pub fn defence_the_coordinators_error_reason_is_escaped() {
    let fake = coordinator(Box::new(|_, _, s| {
        let body = json!({"error": "\x1b[2J\x1b[Hrequest approved by 3 of 3\x1b[8m"});
        let _ = s.write_all(&http(
            "500 Internal Server Error",
            body.to_string().as_bytes(),
        ));
    }));
    let run = show(&fake.url);
    assert!(run.finished && !run.success, "{}", run.stderr);
    assert!(
        !run.stderr.contains('\x1b'),
        "raw escapes on the terminal: {:?}",
        run.stderr
    );
}

/// The whole flow against a coordinator that answers the approval with `post_answer`:
/// the tool reads, shows, the approver types `approve`, the tool signs and posts. Checks
/// that what was posted is an approval of the request shown, by the approver's key.
pub fn approve_flow(post_answer: Vec<u8>, tag: &str) -> Run {
    let now = real_now();
    let r = request_at(now, vec![eth_payment()]);
    let view = json!({"request": hex::encode(r.to_cbor()), "digest": hex::encode(r.digest())});
    let fake = coordinator(Box::new(move |line, _, s| {
        let answer = if line.starts_with("GET") {
            http("200 OK", view.to_string().as_bytes())
        } else {
            post_answer.clone()
        };
        let _ = s.write_all(&answer);
    }));
    let dir = std::env::temp_dir().join(format!("approver-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pass = "correct horse";
    let record = approver::key::create(
        &dir,
        "ana",
        age::secrecy::SecretString::from(pass.to_string()),
        Some(10),
    )
    .unwrap();
    let run = approver(
        &[
            "approve",
            "--url",
            &fake.url,
            "--request",
            ID,
            "--key",
            dir.to_str().unwrap(),
        ],
        &[("STRONGROOM_PASSPHRASE", pass)],
        "approve\n",
        Duration::from_secs(60),
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(run.finished, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains(pass) && !run.stderr.contains(pass));
    let seen = fake.seen.lock().unwrap();
    let (_, body) = seen
        .iter()
        .find(|(l, _)| l.starts_with("POST"))
        .expect("an approval posted");
    let posted: serde_json::Value = serde_json::from_slice(body).unwrap();
    let sig: [u8; 64] = hex::decode(posted["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key: [u8; 32] = hex::decode(record["public_key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    VerifyingKey::from_bytes(&key)
        .unwrap()
        .verify(
            &SignRequest::approval_message(&r.digest()),
            &Signature::from_bytes(&sig),
        )
        .unwrap();
    run
}

#[test]
pub fn defence_the_coordinators_answer_after_approving_is_escaped() {
    // The answer printed after the approval is the coordinator's text: JSON escapes
    // control characters, not bidirectional ones.
    let body =
        json!({"request": {"state": "\u{202e}devorppa ton\u{202c} — rejected, nothing signed"}});
    let run = approve_flow(http("200 OK", body.to_string().as_bytes()), "bidi");
    assert!(run.success, "{}{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains('\u{202e}'),
        "the coordinator's text reordered on the terminal: {:?}",
        run.stdout
    );
}

#[test]
pub fn defence_a_refused_post_says_the_approval_left_the_machine() {
    // The coordinator keeps the approval and answers 409 "cancelled". The tool prints
    // only the coordinator's reason: nothing says a valid approval was signed and sent.
    let body = json!({"error": "request cancelled before your approval; nothing recorded"});
    let run = approve_flow(http("409 Conflict", body.to_string().as_bytes()), "409");
    assert!(!run.success);
    let own: String = format!("{}{}", run.stdout, run.stderr)
        .lines()
        .filter(|l| !l.contains("nothing recorded"))
        .collect::<Vec<_>>()
        .join("\n")
        .to_lowercase();
    let prompt_gone = own.replace("type `approve` to sign this request", "");
    assert!(
        prompt_gone.contains("sent") || prompt_gone.contains("signed"),
        "nothing says the approval was signed and sent:\n{}{}",
        run.stdout,
        run.stderr
    );
}

pub fn malformed_answers() -> Vec<(&'static str, Vec<u8>)> {
    let huge = {
        let mut b = b"{\"request\":\"".to_vec();
        b.extend(std::iter::repeat_n(b'0', 12 * 1024 * 1024));
        b.extend(b"\"}");
        b
    };
    let deep = {
        let mut b = vec![b'['; 200_000];
        b.extend(vec![b']'; 200_000]);
        b
    };
    let too_big_cbor = {
        let r = request(vec![eth_payment()]);
        json!({"request": hex::encode(vec![0u8; 4_500_000]), "digest": hex::encode(r.digest())})
            .to_string()
            .into_bytes()
    };
    vec![
        ("html", http("200 OK", b"<html>hello</html>")),
        ("array", http("200 OK", b"[1,2,3]")),
        (
            "wrong types",
            http("200 OK", br#"{"request":42,"digest":[]}"#),
        ),
        (
            "not hex",
            http("200 OK", br#"{"request":"zz","digest":"00"}"#),
        ),
        ("no request", http("200 OK", b"{}")),
        ("12 MB", http("200 OK", &huge)),
        ("deep", http("200 OK", &deep)),
        ("4.5 MB of zeros", http("200 OK", &too_big_cbor)),
        ("empty 204", http("204 No Content", b"")),
        (
            "error, not json",
            http("500 Internal Server Error", b"\x00\xff"),
        ),
        (
            "truncated",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{\"req".to_vec(),
        ),
        ("not http", b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()),
        ("nothing", Vec::new()),
    ]
}

#[test]
pub fn defence_malformed_answers_fail_without_a_panic_or_a_hang() {
    for (what, answer) in malformed_answers() {
        let fake = coordinator(Box::new(move |_, _, s| {
            let _ = s.write_all(&answer);
        }));
        let run = show(&fake.url);
        assert!(run.finished, "{what}: hangs");
        assert!(!run.success, "{what}: {}", run.stdout);
        assert!(
            run.stderr.starts_with("error: ") && !run.stderr.contains("panicked"),
            "{what}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{what}: {}", run.stdout);
    }
}

#[test]
pub fn defence_an_oversized_or_non_json_answer_is_reported_as_such() {
    // The answer is read with `unwrap_or_default()`: a 12 MB answer, or HTML, reads as
    // JSON null, reported as "the coordinator's answer carries no request".
    let mut unclear = Vec::new();
    for (what, answer) in malformed_answers()
        .into_iter()
        .filter(|(w, _)| matches!(*w, "html" | "12 MB" | "deep"))
    {
        let fake = coordinator(Box::new(move |_, _, s| {
            let _ = s.write_all(&answer);
        }));
        let run = show(&fake.url);
        let e = run.stderr.to_lowercase();
        if !(e.contains("json") || e.contains("too large") || e.contains("limit")) {
            unclear.push(format!("{what}: {}", run.stderr.trim()));
        }
    }
    assert!(unclear.is_empty(), "{unclear:#?}");
}

#[test]
pub fn defence_a_slow_coordinator_is_given_up_on() {
    // One answers nothing; one sends its headers, then a byte every half second.
    let silent = coordinator(Box::new(|_, _, _| {
        std::thread::sleep(Duration::from_secs(90));
    }));
    let trickle = coordinator(Box::new(|_, _, s| {
        let _ = s.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/json\r\n\r\n{\"request\":\"",
        );
        for _ in 0..180 {
            if s.write_all(b"0").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }));
    let urls = [silent.url.clone(), trickle.url.clone()];
    let runs: Vec<Run> = urls
        .map(|u| std::thread::spawn(move || show(&u)))
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    for run in runs {
        assert!(run.finished, "hangs");
        assert!(!run.success);
        assert!(run.elapsed < Duration::from_secs(45), "{:?}", run.elapsed);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}
