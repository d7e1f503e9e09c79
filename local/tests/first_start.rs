//! `clavis-local serve` started the way a newcomer's `make run` starts it: the binary itself,
//! no data-directory setting, in a fresh working directory, so that the relative default
//! `.data` is what gets used. And each start-up failure that is cheap to provoke, which must
//! print a sentence and a hint and exit non-zero.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

mod common;

use common::{clavis_local, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_the_default_data_directory_creates_credentials_and_issues_tokens() {
    let cwd = tempfile::tempdir().unwrap();
    let gateway = serve(cwd.path(), &[]).await;
    let (url, token) = (gateway.url.clone(), gateway.token.clone());

    let data = cwd.path().join(".data");
    assert!(
        data.join("dynamodb").is_dir(),
        "DynamoDB Local keeps its data under ./.data"
    );
    assert!(data.join("dev-signing-key.pem").is_file());

    let http = reqwest::Client::new();
    let created = http
        .post(format!("{url}/v1/tenants/demo/credentials"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "First start", "scopes": ["products:read"]}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create: {e}; the gateway said:\n{}", gateway.log()));
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let client_id = created["credential"]["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();

    let issued = http
        .post(format!("{url}/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), 200);
    let issued: serde_json::Value = issued.json().await.unwrap();
    assert_eq!(issued["token_type"], "Bearer");
    assert_eq!(issued["scope"], "products:read");

    // Ctrl-C's polite cousin: the gateway stops DynamoDB Local and exits cleanly.
    gateway.signal(libc::SIGTERM);
    let mut child = gateway.child;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the gateway stops within 30 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "clean stop, got {status}");
}

/// A folder holding one executable shell script named `name`.
fn bin_dir_with(root: &Path, name: &str, script: &str) -> std::path::PathBuf {
    let dir = root.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

struct Failing {
    name: &'static str,
    /// Settings for the run, given the temporary folder it runs in.
    settings: fn(&Path) -> Vec<(&'static str, String)>,
    /// What standard error must say (each piece, in any order), given the same folder.
    says: fn(&Path) -> Vec<String>,
}

const FAKE_JAVA_17_THAT_EXITS: &str = r#"if [ "$1" = -version ]; then echo 'openjdk version "17.0.9" 2023-10-17' >&2; exit 0; fi
echo "Invalid directory for database creation."
exit 1"#;

#[tokio::test]
async fn start_up_failures_say_what_happened_and_what_to_do() {
    let cases = [
        Failing {
            name: "port taken",
            settings: |_| vec![("STORE", "memory".into())],
            says: |_| vec!["already in use".into(), "PORT=".into()],
        },
        Failing {
            name: "data directory is a file",
            settings: |dir| {
                let file = dir.join("not-a-folder");
                std::fs::write(&file, "").unwrap();
                vec![
                    ("STORE", "memory".into()),
                    ("CLAVIS_DATA_DIR", file.display().to_string()),
                ]
            },
            says: |dir| {
                vec![
                    dir.join("not-a-folder").display().to_string(),
                    "is a file".into(),
                    "CLAVIS_DATA_DIR".into(),
                ]
            },
        },
        Failing {
            name: "a platform API without its route scopes",
            settings: |_| {
                vec![
                    ("STORE", "memory".into()),
                    ("CLAVIS_UPSTREAM", "http://127.0.0.1:9".into()),
                ]
            },
            says: |_| vec!["ROUTE_SCOPES".into(), "CLAVIS_UPSTREAM".into()],
        },
        Failing {
            name: "an expiry notice out of range",
            settings: |_| {
                vec![
                    ("STORE", "memory".into()),
                    ("EXPIRY_NOTICE_DAYS", "0".into()),
                ]
            },
            says: |_| vec!["EXPIRY_NOTICE_DAYS".into(), "between 1 and 3650".into()],
        },
        Failing {
            name: "npm missing",
            settings: |dir| {
                let empty = dir.join("empty");
                std::fs::create_dir_all(&empty).unwrap();
                vec![
                    ("PATH", empty.display().to_string()),
                    ("CLAVIS_REPO_ROOT", empty.display().to_string()),
                ]
            },
            says: |_| vec!["npm".into(), "not on PATH".into(), "STORE=memory".into()],
        },
        Failing {
            name: "java missing",
            settings: |dir| {
                let empty = dir.join("empty");
                std::fs::create_dir_all(&empty).unwrap();
                vec![("PATH", empty.display().to_string())]
            },
            says: |_| {
                vec![
                    "Java is not on PATH".into(),
                    "Java 17 or newer".into(),
                    "STORE=memory make run".into(),
                ]
            },
        },
        Failing {
            name: "java too old",
            settings: |dir| {
                let bin = bin_dir_with(dir, "java", r#"echo 'java version "1.8.0_391"' >&2"#);
                vec![("PATH", bin.display().to_string())]
            },
            says: |_| {
                vec![
                    "Java 1.8.0_391".into(),
                    "Java 17 or newer".into(),
                    "STORE=memory make run".into(),
                ]
            },
        },
        Failing {
            name: "DynamoDB Local exits",
            settings: |dir| {
                let bin = bin_dir_with(dir, "java", FAKE_JAVA_17_THAT_EXITS);
                vec![("PATH", bin.display().to_string())]
            },
            says: |dir| {
                vec![
                    "DynamoDB Local exited".into(),
                    dir.join(".data/dynamodb/dynamodb-local.log")
                        .display()
                        .to_string(),
                    "  Invalid directory for database creation.".into(),
                    "STORE=memory make run".into(),
                ]
            },
        },
    ];
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        // Held for the run: the port-taken case needs it taken, the others any free port.
        let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = if case.name == "port taken" {
            holder.local_addr().unwrap().port()
        } else {
            0
        };
        let mut command = clavis_local(dir.path());
        command.arg("serve").env("PORT", port.to_string());
        for (key, value) in (case.settings)(dir.path()) {
            command.env(key, value);
        }
        let output = tokio::time::timeout(Duration::from_secs(60), command.output())
            .await
            .unwrap_or_else(|_| panic!("{}: still running after 60 s", case.name))
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{}: exits non-zero; it said:\n{stderr}",
            case.name
        );
        let mut expected = (case.says)(dir.path());
        if case.name == "port taken" {
            expected.push(format!("port {port}"));
        }
        for piece in expected {
            assert!(
                stderr.contains(&piece),
                "{}: says {piece:?}; it said:\n{stderr}",
                case.name
            );
        }
        for debug_dump in ["Os {", "kind:", "Error: ", "Exited("] {
            assert!(
                !stderr.contains(debug_dump),
                "{}: no Debug dump ({debug_dump:?}); it said:\n{stderr}",
                case.name
            );
        }
    }
}
