//! `audsync emulator` end to end (the binary on port 0, called with reqwest, stopped with
//! SIGTERM), and `Sandbox`, an in-process emulator the other command tests run against.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use audsync_emulator::{DEFAULT_ACCESS_TOKEN, DEFAULT_AD_ACCOUNT_ID, EmulatorConfig};
use serde_json::Value;

use crate::support::{TestDir, arg, audsync};

/// How long a test waits for the binary to print its URL or to exit before it fails (a
/// deadline for failing, never a sleep to pass).
const PROCESS_DEADLINE: Duration = Duration::from_secs(60);

/// An emulator served in-process (`audsync_emulator::spawn`) on its own runtime, for tests that
/// run the `audsync` binary against it.
pub struct Sandbox {
    runtime: tokio::runtime::Runtime,
    emulator: Option<audsync_emulator::RunningEmulator>,
}

impl Sandbox {
    pub fn start(config: EmulatorConfig) -> Sandbox {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let emulator = runtime
            .block_on(audsync_emulator::spawn(config))
            .expect("the emulator starts");
        Sandbox {
            runtime,
            emulator: Some(emulator),
        }
    }

    /// The default world (one active account, one valid system-user token) with `scenario`.
    pub fn with_scenario(scenario: &str) -> Sandbox {
        Sandbox::start(
            EmulatorConfig::default()
                .with_scenario(scenario)
                .expect("a built-in scenario"),
        )
    }

    pub fn base_url(&self) -> String {
        self.emulator().base_url()
    }

    pub fn emulator(&self) -> &audsync_emulator::RunningEmulator {
        self.emulator.as_ref().expect("running")
    }

    /// Runs `future` on the sandbox's runtime (e.g. a `GraphClient` call to prepare state).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(emulator) = self.emulator.take() {
            self.runtime.block_on(emulator.shutdown());
        }
    }
}

/// `GET`/`POST` with a bearer token; returns the HTTP status and the JSON body.
pub fn http(method: reqwest::Method, url: &str, token: &str, json: Option<Value>) -> (u16, Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(PROCESS_DEADLINE)
            .build()
            .expect("an HTTP client");
        let mut request = client.request(method, url).bearer_auth(token);
        if let Some(json) = json {
            request = request.json(&json);
        }
        let response = request.send().await.expect("the emulator answers");
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.expect("a JSON answer");
        (status, body)
    })
}

/// The `audsync emulator` process, its stdout read line by line on a thread.
struct EmulatorProcess {
    /// `None` once handed to the thread that waits for its exit.
    child: Option<Child>,
    pid: u32,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::process::ChildStderr>,
}

impl EmulatorProcess {
    fn start(args: &[&str]) -> EmulatorProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_audsync"))
            .arg("emulator")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start audsync emulator");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        EmulatorProcess {
            pid: child.id(),
            stderr: child.stderr.take(),
            child: Some(child),
            lines,
        }
    }

    /// Every line printed up to and including the first one starting with `prefix`.
    fn lines_until(&self, prefix: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(PROCESS_DEADLINE) {
                Ok(line) => {
                    let done = line.starts_with(prefix);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(error) => panic!("no line starting with {prefix:?} ({error}); got {seen:?}"),
            }
        }
    }

    /// Reads the printed description up to "Press Ctrl-C"; returns (base URL, all lines).
    fn started(&self) -> (String, String) {
        let lines = self.lines_until("Press Ctrl-C");
        let url = lines
            .iter()
            .find_map(|line| line.strip_prefix("Graph API emulator listening on "))
            .unwrap_or_else(|| panic!("no URL line in {lines:?}"))
            .to_string();
        (url, lines.join("\n"))
    }

    /// Sends SIGTERM (by pid) and waits for the exit; returns the exit code, the rest of
    /// stdout and stderr.
    fn terminate(mut self) -> (Option<i32>, String, String) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let mut child = self.child.take().expect("not yet waited for");
        let (sender, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait());
        });
        let exit = exited
            .recv_timeout(PROCESS_DEADLINE)
            .expect("the emulator exits after SIGTERM")
            .expect("wait for the emulator");
        let mut rest = Vec::new();
        // The reader thread ends at end of file, which follows the exit.
        while let Ok(line) = self.lines.recv_timeout(PROCESS_DEADLINE) {
            rest.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut pipe) = self.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        (exit.code(), rest.join("\n"), stderr)
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        // Only this test's own child, by its handle or pid; already exited is fine.
        match &mut self.child {
            Some(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {
                let _ = Command::new("kill")
                    .args(["-KILL", &self.pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

#[test]
fn prints_the_bound_url_and_credentials_serves_them_and_stops_on_sigterm() {
    let process = EmulatorProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--ad-account",
        "act_1234567",
        "--token",
        "EAAsandboxTokenForTests",
        "--scenario",
        "tos-not-accepted",
    ]);
    let (base_url, description) = process.started();
    let port: u16 = base_url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("not a loopback URL with a port: {base_url}"));
    assert_ne!(port, 0, "the real bound port is printed");
    for expected in [
        "act_1234567",
        "EAAsandboxTokenForTests",
        "scenarios: tos-not-accepted",
        "state: in memory",
    ] {
        assert!(
            description.contains(expected),
            "{expected} in\n{description}"
        );
    }
    assert!(
        !description.contains(DEFAULT_AD_ACCOUNT_ID),
        "--ad-account replaces the default account:\n{description}"
    );

    let account_url = format!("{base_url}/v25.0/act_1234567?fields=id,account_status,tos_accepted");
    let (status, body) = http(
        reqwest::Method::GET,
        &account_url,
        "EAAsandboxTokenForTests",
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "act_1234567");
    assert_eq!(body["account_status"], 1);
    assert_eq!(
        body["tos_accepted"]["custom_audience_tos"], 0,
        "the scenario is active: {body}"
    );
    // --token replaced the default token, which is now unknown.
    let (status, body) = http(
        reqwest::Method::GET,
        &account_url,
        DEFAULT_ACCESS_TOKEN,
        None,
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], 190, "{body}");

    let (code, rest, stderr) = process.terminate();
    assert_eq!(code, Some(0), "graceful stop exits 0; stderr:\n{stderr}");
    assert!(rest.contains("Graph API emulator stopped."), "{rest}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
}

#[test]
fn state_file_keeps_audiences_across_a_restart() {
    let dir = TestDir::new();
    let state = dir.path("emulator-state.json");
    let args = ["--listen", "127.0.0.1:0", "--state", arg(&state)];

    let process = EmulatorProcess::start(&args);
    let (base_url, description) = process.started();
    assert!(description.contains("state file:"), "{description}");
    let (status, created) = http(
        reqwest::Method::POST,
        &format!("{base_url}/v25.0/{DEFAULT_AD_ACCOUNT_ID}/customaudiences"),
        DEFAULT_ACCESS_TOKEN,
        Some(serde_json::json!({
            "name": "CA_kept",
            "subtype": "CUSTOM",
            "customer_file_source": "USER_PROVIDED_ONLY",
        })),
    );
    assert_eq!(status, 200, "{created}");
    let audience_id = created["id"].as_str().expect("an id").to_string();
    let (code, _, stderr) = process.terminate();
    assert_eq!(code, Some(0), "{stderr}");

    let process = EmulatorProcess::start(&args);
    let (base_url, _) = process.started();
    let (status, listed) = http(
        reqwest::Method::GET,
        &format!("{base_url}/v25.0/{DEFAULT_AD_ACCOUNT_ID}/customaudiences?fields=id,name"),
        DEFAULT_ACCESS_TOKEN,
        None,
    );
    assert_eq!(status, 200, "{listed}");
    let names: Vec<(&str, &str)> = listed["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|audience| {
            (
                audience["id"].as_str().unwrap_or_default(),
                audience["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(names, [(audience_id.as_str(), "CA_kept")]);
    let (code, _, stderr) = process.terminate();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn bad_flags_exit_2_with_the_reason() {
    let run = audsync(["emulator", "--scenario", "no-such-scenario"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown scenario") && run.stderr.contains("expired-token"),
        "{}",
        run.stderr
    );

    let run = audsync(["emulator", "--ad-account", "act_12ab"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--ad-account"), "{}", run.stderr);

    let run = audsync(["emulator", "--listen", "not-an-address"]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("--listen"), "{}", run.stderr);
}

#[test]
fn a_busy_port_is_reported() {
    let sandbox = Sandbox::start(EmulatorConfig::default());
    let busy = sandbox.emulator().local_addr().to_string();
    let run = audsync(["emulator", "--listen", &busy]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("cannot listen on {busy}")),
        "{}",
        run.stderr
    );
}
