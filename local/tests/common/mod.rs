// Each test binary that includes this module uses only part of it.
#![allow(dead_code)]

//! `clavis-local` as a child process, started as `make run` starts it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_clavis-local");

/// The binary with none of the settings `make run` leaves unset; the caller adds its own.
pub fn clavis_local(cwd: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(cwd)
        .kill_on_drop(true)
        .stdin(Stdio::null());
    for setting in [
        "CLAVIS_DATA_DIR",
        "STORE",
        "DYNAMODB_ENDPOINT",
        "TABLE_NAME",
        "PORT",
        "CLAVIS_REPO_ROOT",
        "USAGE_FLUSH_SECONDS",
    ] {
        command.env_remove(setting);
    }
    command
}

/// A gateway serving, with what its banner said.
pub struct Serving {
    pub child: Child,
    pub url: String,
    /// The admin token for tenant `demo`.
    pub token: String,
    log: std::path::PathBuf,
}

impl Serving {
    /// What the gateway wrote to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` to the gateway.
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().and_then(|id| i32::try_from(id).ok());
        let pid = pid.expect("the gateway is running");
        // SAFETY: kill(2) on our own child, which has not been reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Starts `clavis-local serve` in `cwd` on any free port, with `settings`, and waits for its
/// banner; standard error goes to `cwd/stderr.log`, shown if it never comes.
pub async fn serve(cwd: &Path, settings: &[(&str, &str)]) -> Serving {
    let stderr_log = cwd.join("stderr.log");
    let mut child = clavis_local(cwd)
        .arg("serve")
        // Any free port: several test binaries run at once.
        .env("PORT", "0")
        .envs(settings.iter().copied())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_log).expect("stderr log"))
        .spawn()
        .expect("clavis-local starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let banner = tokio::time::timeout(Duration::from_secs(240), async {
        let (mut url, mut token) = (None, None);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.trim().strip_prefix("export CLAVIS_URL=") {
                url = Some(rest.to_owned());
            }
            if let Some(rest) = line.trim().strip_prefix("export TOKEN=") {
                token = Some(rest.to_owned());
                break;
            }
        }
        url.zip(token)
    })
    .await;
    // The rest of standard output is read (and dropped) for as long as the gateway writes it,
    // as a terminal would.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let Ok(Some((url, token))) = banner else {
        panic!(
            "the gateway did not print its banner; it said:\n{}",
            std::fs::read_to_string(&stderr_log).unwrap_or_default()
        );
    };
    Serving {
        child,
        url,
        token,
        log: stderr_log,
    }
}
