//! Running the `palisadectl` binary against a TestApp.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use palisade_test_utils::{TestApp, TestOrg};

/// The client tests' helpers (a client of an organization's admin, an app that delivers
/// webhooks to loopback).
#[path = "../../../client/tests/common/mod.rs"]
mod sdk;
#[allow(unused_imports)]
pub use sdk::{app_delivering_to_loopback, client};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout's JSON lines.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        let lines = self.lines();
        assert_eq!(lines.len(), 1, "one JSON line expected: {}", self.stdout);
        lines.into_iter().next().unwrap()
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The environment of a run: a private config directory and, unless a profile is used, the
/// credentials in the environment.
#[derive(Clone)]
pub struct Ctl {
    pub config_dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Ctl {
    pub fn new(dir: &Path) -> Ctl {
        Ctl {
            config_dir: dir.join("config"),
            env: Vec::new(),
        }
    }

    /// Credentials of `org` on `app` through the environment.
    pub fn for_org(dir: &Path, app: &TestApp, org: &TestOrg) -> Ctl {
        let mut c = Ctl::new(dir);
        c.env = vec![
            ("PALISADE_URL".into(), format!("http://{}", app.addr)),
            ("PALISADE_CLIENT_ID".into(), org.admin.client_id.to_string()),
            ("PALISADE_CLIENT_SECRET".into(), org.admin.secret.clone()),
        ];
        c
    }

    pub fn with(mut self, k: &str, v: &str) -> Ctl {
        self.env.retain(|(name, _)| name != k);
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_palisadectl"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PALISADE_CONFIG_DIR", &self.config_dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs to the end (on a blocking thread, so the server keeps serving).
    pub async fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None).await
    }

    pub async fn run_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.command(args);
        let stdin = stdin.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn palisadectl");
            {
                let mut input = child.stdin.take().unwrap();
                if let Some(s) = stdin {
                    input.write_all(s.as_bytes()).unwrap();
                }
            }
            let out = child.wait_with_output().expect("palisadectl output");
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        })
        .await
        .unwrap()
    }
}
