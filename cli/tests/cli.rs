//! The `clavis` binary against the local gateway (in memory): every command, its JSON, the
//! show-once files, confirmation, settings from flags, environment and profile, and its help.
//!
//! These live in the CLI's own package because only there does Cargo build the binary for the
//! tests and name it (`CARGO_BIN_EXE_clavis`); the gateway comes from `clavis_tests::api`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use clavis_local::idp::LocalIdp;
use clavis_tests::api::TestApi;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// One finished run of `clavis`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn expect(self, code: i32) -> Self {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// `clavis` with a clean environment of its own: the gateway's URL, a tenant, a management
/// token, and a home directory (so no real profile is read) that also holds the files written.
struct Session {
    env: BTreeMap<String, String>,
    dir: PathBuf,
    /// Only the session that made the directory removes it.
    owns_dir: bool,
}

impl Session {
    fn new(api: &TestApi, tenant: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("clavis-cli-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = BTreeMap::from([
            ("HOME".to_owned(), dir.display().to_string()),
            ("CLAVIS_URL".to_owned(), api.gateway.url()),
            ("CLAVIS_TENANT".to_owned(), tenant.to_owned()),
            ("CLAVIS_TOKEN".to_owned(), api.admin(tenant)),
        ]);
        Self {
            env,
            dir,
            owns_dir: true,
        }
    }

    /// A session against any server at `url` (a stand-in for the API), with a made-up token.
    fn against(url: &str, tenant: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("clavis-cli-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).unwrap();
        let env = BTreeMap::from([
            ("HOME".to_owned(), dir.display().to_string()),
            ("CLAVIS_URL".to_owned(), url.to_owned()),
            ("CLAVIS_TENANT".to_owned(), tenant.to_owned()),
            ("CLAVIS_TOKEN".to_owned(), "management-token".to_owned()),
        ]);
        Self {
            env,
            dir,
            owns_dir: true,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The same settings and directory, for a variation that should not outlive this one.
    fn fork(&self) -> Self {
        Self {
            env: self.env.clone(),
            dir: self.dir.clone(),
            owns_dir: false,
        }
    }

    fn with(mut self, name: &str, value: &str) -> Self {
        self.env.insert(name.to_owned(), value.to_owned());
        self
    }

    fn without(mut self, name: &str) -> Self {
        self.env.remove(name);
        self
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, None).await
    }

    async fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_clavis"))
            .args(args)
            .env_clear()
            .envs(&self.env)
            .current_dir(&self.dir)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("clavis runs");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
        }
        let output = child.wait_with_output().await.unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs with `--json`, expecting success, and parses what it printed.
    async fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        self.run(&args).await.expect(0).json()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn is_jwt(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 3 && parts[0].starts_with("ey") && parts.iter().all(|p| !p.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_management_command_works_against_the_local_gateway() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");

    let created = s
        .json(&[
            "create",
            "Inventory sync",
            "--scope",
            "stock:write,products:read",
            "--description",
            "Nightly stock levels",
            "--expires-in-days",
            "90",
        ])
        .await;
    let id = created["credential"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(first_secret.starts_with("csk_live_"), "{created}");
    assert_eq!(
        created["credential"]["scopes"],
        json!(["products:read", "stock:write"])
    );
    assert!(created["credential"]["expires_at"].is_string());
    assert!(
        created["client_secret_notice"]
            .as_str()
            .unwrap()
            .contains("only once")
    );

    // The gateway's clock stands still unless moved; listings order by creation time.
    api.fixture.advance(chrono::TimeDelta::seconds(1));
    // For people: the secret, and the reminder that it is shown once.
    let other = s
        .run(&[
            "create",
            "Reports",
            "-s",
            "orders:read",
            "--environment",
            "test",
        ])
        .await
        .expect(0);
    assert!(
        other.stdout.contains("Client secret:  csk_test_"),
        "{other:#?}"
    );
    assert!(other.stdout.contains("shown only once"), "{other:#?}");

    let listed = s.json(&["list"]).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Reports", "Inventory sync"], "newest first");
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("client_secret").is_none())
    );
    assert_eq!(
        s.json(&["list", "--limit", "1"])
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(s.json(&["list", "--status", "suspended"]).await, json!([]));
    let table = s.run(&["list"]).await.expect(0).stdout;
    let header = table.lines().next().unwrap();
    assert!(header.starts_with("CLIENT ID"), "{table}");
    assert!(table.contains(&id) && table.contains("Reports"), "{table}");
    assert!(!table.contains(&first_secret));

    let shown = s.json(&["show", &id]).await;
    assert_eq!(
        (shown["version"].as_u64(), shown["status"].as_str()),
        (Some(1), Some("active"))
    );
    let details = s.run(&["show", &id]).await.expect(0).stdout;
    assert!(
        details.contains("Status") && details.contains("active"),
        "{details}"
    );

    let updated = s
        .json(&[
            "update",
            &id,
            "--name",
            "Inventory sync v2",
            "-s",
            "products:read",
            "--if-match",
            "1",
        ])
        .await;
    assert_eq!(updated["name"], "Inventory sync v2");
    assert_eq!(updated["scopes"], json!(["products:read"]));
    assert_eq!(updated["version"], 2);
    let stale = s
        .run(&["update", &id, "--name", "x", "--if-match", "1"])
        .await
        .expect(1);
    assert!(stale.stderr.contains("version_mismatch"), "{stale:#?}");
    assert!(
        stale.stderr.contains("--if-match 2"),
        "the hint names the current version: {stale:#?}"
    );
    let nothing = s.run(&["update", &id]).await.expect(2);
    assert!(nothing.stderr.contains("--monthly-quota"), "{nothing:#?}");
    let quota = s.json(&["update", &id, "--monthly-quota", "5000"]).await;
    assert_eq!(quota["monthly_request_quota"], 5000);
    let shown = s.run(&["show", &id]).await.expect(0);
    assert!(shown.stdout.contains("0 of 5000 in"), "{shown:#?}");
    let unlimited = s.json(&["update", &id, "--no-monthly-quota"]).await;
    assert_eq!(unlimited["monthly_request_quota"], json!(null));

    let moved = s.json(&["expiry", "set", &id, "--in-days", "180"]).await;
    let expires: chrono::DateTime<chrono::Utc> =
        moved["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires - chrono::Utc::now()).num_days();
    assert!((179..=180).contains(&days), "{moved}");
    let at = (chrono::Utc::now() + chrono::TimeDelta::days(200))
        .format("%Y-%m-%d")
        .to_string();
    let moved = s.json(&["expiry", "set", &id, "--at", &at]).await;
    assert!(
        moved["expires_at"].as_str().unwrap().starts_with(&at),
        "{moved}"
    );
    let removed = s.json(&["expiry", "remove", &id]).await;
    assert_eq!(removed["expires_at"], Value::Null);

    let rotated = s.json(&["rotate", &id, "--grace", "1h"]).await;
    assert_eq!(rotated["credential"]["secret_version"], 2);
    assert!(rotated["credential"]["previous_secret_valid_until"].is_string());
    let secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(secret, first_secret);
    let ended = s.json(&["rotate", &id, "--end-existing-tokens"]).await;
    assert_eq!(ended["credential"]["secret_version"], 3);
    let secret = ended["client_secret"].as_str().unwrap().to_owned();

    let integration = Session::new(&api, "acme")
        .without("CLAVIS_TOKEN")
        .with("CLAVIS_CLIENT_ID", &id)
        .with("CLAVIS_CLIENT_SECRET", &secret);
    assert!(is_jwt(
        integration.run(&["token"]).await.expect(0).stdout.trim()
    ));

    assert_eq!(s.json(&["suspend", &id]).await["status"], "suspended");
    let refused = integration.run(&["token"]).await.expect(1);
    assert!(refused.stderr.contains("invalid_client"), "{refused:#?}");
    assert!(refused.stderr.contains("hint: "), "{refused:#?}");
    let reactivated = s.run(&["reactivate", &id]).await.expect(0).stdout;
    assert!(
        reactivated.starts_with(&format!("Reactivated {id}.")),
        "{reactivated}"
    );
    assert!(is_jwt(
        integration.run(&["token"]).await.expect(0).stdout.trim()
    ));

    let revoked = s
        .json(&["revoke", &id, "--yes", "--reason", "integration retired"])
        .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "integration retired");
    let again = s.run(&["rotate", &id]).await.expect(1);
    assert!(again.stderr.contains("credential_revoked"), "{again:#?}");
    assert!(again.stderr.contains("clavis create"), "{again:#?}");

    let trail = s.json(&["audit", &id]).await;
    let kinds: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "credential.revoked",
            "credential.reactivated",
            "credential.suspended",
            "credential.secret_rotated",
            "credential.secret_rotated",
            "credential.expiry_changed",
            "credential.expiry_changed",
            "credential.expiry_changed",
            "credential.updated",
            "credential.updated",
            "credential.updated",
            "credential.created",
        ]
    );
    assert_eq!(
        s.json(&["audit", "--limit", "2"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let table = s.run(&["audit"]).await.expect(0).stdout;
    assert!(
        table.starts_with("AT") && table.contains("credential.revoked"),
        "{table}"
    );

    let deleted = s.json(&["delete", &id, "--yes"]).await;
    assert_eq!(deleted, json!({"client_id": id, "deleted": true}));
    let gone = s.run(&["show", &id]).await.expect(1);
    assert!(gone.stderr.contains("credential_not_found"), "{gone:#?}");
    assert!(
        gone.stderr
            .contains(&format!("There is no credential {id} in tenant acme")),
        "{gone:#?}"
    );
    assert!(gone.stderr.contains("`clavis list`"), "{gone:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_goes_to_new_private_files_that_are_never_overwritten() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let env_file = s.path("inventory.env");
    let json_file = s.path("inventory.json");
    let env_arg = env_file.display().to_string();
    let json_arg = json_file.display().to_string();

    let run = s
        .run(&[
            "create",
            "Inventory sync",
            "-s",
            "products:read",
            "--save-env",
            &env_arg,
            "--save-json",
            &json_arg,
        ])
        .await
        .expect(0);
    assert!(
        run.stdout.contains("shown only once"),
        "the reminder: {run:#?}"
    );
    assert!(
        run.stdout.contains(&format!("written to {env_arg}")),
        "{run:#?}"
    );

    for file in [&env_file, &json_file] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    let id = saved["client_id"].as_str().unwrap().to_owned();
    let secret = saved["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("csk_live_"));
    assert_eq!(saved["url"], api.gateway.url());
    assert!(
        !run.stdout.contains(&secret),
        "not on the terminal when saved: {run:#?}"
    );
    let env_text = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        env_text.contains(&format!("CLAVIS_CLIENT_ID={id}\n")),
        "{env_text}"
    );
    assert!(
        env_text.contains(&format!("CLAVIS_CLIENT_SECRET={secret}\n")),
        "{env_text}"
    );

    // The env file is a shell's too.
    let sourced = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -a; . '{env_arg}'; echo \"$CLAVIS_CLIENT_ID $CLAVIS_CLIENT_SECRET\""
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sourced.stdout).trim(),
        format!("{id} {secret}")
    );

    // Either file is what `clavis token` needs.
    let integration = Session::new(&api, "acme")
        .without("CLAVIS_TOKEN")
        .without("CLAVIS_URL");
    for file in [&env_arg, &json_arg] {
        let token = integration
            .run(&["token", "--credentials", file])
            .await
            .expect(0);
        assert!(is_jwt(token.stdout.trim()), "{token:#?}");
    }

    // Again to the same path: refused before anything changes, the file as it was.
    let before = std::fs::read(&env_file).unwrap();
    for args in [
        vec![
            "create",
            "Second",
            "-s",
            "products:read",
            "--save-env",
            &env_arg,
        ],
        vec!["rotate", &id, "--save-json", &json_arg],
    ] {
        let refused = s.run(&args).await.expect(3);
        assert!(refused.stderr.contains("already exists"), "{refused:#?}");
        assert!(refused.stderr.contains("never overwrites"), "{refused:#?}");
        assert!(
            refused.stderr.contains("Choose another path"),
            "{refused:#?}"
        );
        assert!(
            refused.stderr.contains("Nothing was changed on the server"),
            "{refused:#?}"
        );
    }
    assert_eq!(std::fs::read(&env_file).unwrap(), before);
    assert_eq!(
        s.json(&["list"]).await.as_array().unwrap().len(),
        1,
        "no second credential"
    );
    assert_eq!(
        s.json(&["show", &id]).await["secret_version"],
        1,
        "not rotated"
    );
    // A refused --save-json did not leave the --save-env file it had created meanwhile.
    let fresh_env = s.path("fresh.env");
    let fresh = fresh_env.display().to_string();
    s.run(&[
        "create",
        "Third",
        "-s",
        "products:read",
        "--save-env",
        &fresh,
        "--save-json",
        &json_arg,
    ])
    .await
    .expect(3);
    assert!(!fresh_env.exists());
    // Nor does a request the API refuses.
    let failed = s
        .run(&["create", "Bad", "-s", "not a scope", "--save-env", &fresh])
        .await
        .expect(1);
    assert!(failed.stderr.contains("invalid_scope"), "{failed:#?}");
    assert!(!fresh_env.exists());

    // A rotation to a new file: the new secret there, the old one still in the first file.
    let rotated_file = s.path("rotated.json");
    let rotated_arg = rotated_file.display().to_string();
    let rotated = s.json(&["rotate", &id, "--save-json", &rotated_arg]).await;
    assert!(rotated.get("client_secret").is_none(), "{rotated}");
    assert_eq!(rotated["saved_to"], json!([rotated_arg]));
    let new: Value =
        serde_json::from_str(&std::fs::read_to_string(&rotated_file).unwrap()).unwrap();
    assert_eq!(new["client_id"], id.as_str());
    assert_ne!(new["client_secret"], secret.as_str());
    assert_eq!(
        std::fs::metadata(&rotated_file)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    // No grace period: the old secret stopped at once.
    integration
        .run(&[
            "token",
            "--credentials",
            &json_arg,
            "--url",
            &api.gateway.url(),
        ])
        .await
        .expect(1);
    integration
        .run(&["token", "--credentials", &rotated_arg])
        .await
        .expect(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_and_delete_need_yes_when_stdin_is_not_a_terminal() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let id = api.create_in("acme").await;
    for command in ["revoke", "delete"] {
        for stdin in [None, Some("y\n")] {
            let refused = s.run_with_stdin(&[command, &id], stdin).await.expect(3);
            assert!(refused.stderr.contains("not confirmed"), "{refused:#?}");
            assert!(
                refused.stderr.contains("stdin is not a terminal"),
                "{refused:#?}"
            );
            assert!(
                refused
                    .stderr
                    .contains(&format!("clavis {command} {id} --yes")),
                "{refused:#?}"
            );
        }
    }
    assert_eq!(s.json(&["show", &id]).await["status"], "active");
    assert_eq!(api.audit_len("acme").await, 1, "only its creation");
    s.run(&["revoke", &id, "-y"]).await.expect(0);
    s.run(&["delete", &id, "-y"]).await.expect(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_prints_an_access_token_the_api_accepts() {
    let api = TestApi::memory().await;
    let created = api
        .create(
            "acme",
            json!({"name": "Job", "scopes": ["products:read", "stock:write"]}),
        )
        .await;
    let id = created["credential"]["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    let s = Session::new(&api, "acme")
        .without("CLAVIS_TOKEN")
        .with("CLAVIS_CLIENT_ID", id)
        .with("CLAVIS_CLIENT_SECRET", secret);

    let token = s.run(&["token"]).await.expect(0).stdout;
    assert_eq!(token.lines().count(), 1, "the token alone: {token}");
    let token = token.trim();
    assert!(is_jwt(token));
    let introspected = api
        .form("/oauth/introspect", Some((id, secret)), &[("token", token)])
        .await
        .expect(200)
        .json();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["client_id"], id);

    let narrow = s.json(&["token", "--scope", "products:read"]).await;
    assert_eq!(narrow["token_type"], "Bearer");
    assert_eq!(narrow["expires_in"], 3600);
    assert_eq!(narrow["scope"], "products:read");
    assert!(is_jwt(narrow["access_token"].as_str().unwrap()));

    let wrong = s
        .with("CLAVIS_CLIENT_SECRET", "csk_live_wrong")
        .run(&["token", "--json"])
        .await
        .expect(1);
    let error: Value = serde_json::from_str(wrong.stderr.trim()).unwrap();
    assert_eq!(error["code"], "invalid_client", "{wrong:#?}");
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("client ID and secret")
    );

    let nothing = Session::new(&api, "acme").run(&["token"]).await.expect(2);
    assert!(
        nothing.stderr.contains("no client ID given"),
        "{nothing:#?}"
    );
    assert!(nothing.stderr.contains("CLAVIS_CLIENT_ID"), "{nothing:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_token_prints_a_token_the_local_gateway_accepts() {
    let data = std::env::temp_dir().join(format!("clavis-dev-{}", ulid::Ulid::generate()));
    // What `make run` does on first start: create the development key in the data directory.
    let idp = LocalIdp::load_or_create(&data).unwrap();
    let api = TestApi::memory_with_idp(idp).await;
    let data_arg = data.display().to_string();
    let s = Session::new(&api, "acme")
        .without("CLAVIS_TOKEN")
        .with("CLAVIS_DATA_DIR", &data_arg);

    let token = s.run(&["dev-token"]).await.expect(0).stdout;
    let admin = s.with("CLAVIS_TOKEN", token.trim());
    admin
        .run(&["create", "Made with a dev token", "-s", "products:read"])
        .await
        .expect(0);
    let trail = admin.json(&["audit"]).await;
    assert_eq!(
        trail[0]["actor"],
        json!({"subject": "dev-admin", "role": "admin"})
    );

    // An advisor of acme, from another tenant, as `make dev-token` would mint one.
    let advisor = Session::new(&api, "agency").without("CLAVIS_TOKEN");
    let advisor_token = advisor
        .run(&[
            "dev-token",
            "--data-dir",
            &data_arg,
            "--role",
            "advisor",
            "--advises",
            "acme,globex",
            "--subject",
            "ann",
        ])
        .await
        .expect(0)
        .stdout;
    let advisor = advisor.with("CLAVIS_TOKEN", advisor_token.trim());
    assert_eq!(
        advisor
            .json(&["--tenant", "acme", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let refused = advisor
        .run(&["--tenant", "initech", "list"])
        .await
        .expect(1);
    assert!(refused.stderr.contains("forbidden"), "{refused:#?}");
    assert!(refused.stderr.contains("tenant initech"), "{refused:#?}");

    let json = advisor.json(&["dev-token", "--data-dir", &data_arg]).await;
    assert!(is_jwt(json["token"].as_str().unwrap()));

    let missing = advisor
        .run(&["dev-token", "--data-dir", "/nonexistent"])
        .await
        .expect(2);
    assert!(
        missing
            .stderr
            .contains("no development key at /nonexistent/dev-idp-key.pem"),
        "{missing:#?}"
    );
    assert!(missing.stderr.contains("make run"), "{missing:#?}");
    std::fs::remove_dir_all(data).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_flags_then_environment_then_the_profile() {
    let api = TestApi::memory().await;
    api.create_in("acme").await;
    let s = Session::new(&api, "acme")
        .without("CLAVIS_URL")
        .without("CLAVIS_TENANT")
        .without("CLAVIS_TOKEN");
    let config = s.path("config.toml");
    std::fs::write(
        &config,
        format!(
            "[default]\nurl = \"http://127.0.0.1:9\"\n\n[local]\nurl = \"{}\"\ntenant = \"acme\"\ntoken = \"{}\"\n",
            api.gateway.url(),
            api.admin("acme")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config_arg = config.display().to_string();

    let listed = s
        .json(&["--config", &config_arg, "--profile", "local", "list"])
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    // The default place, $XDG_CONFIG_HOME/clavis/config.toml, and CLAVIS_PROFILE.
    std::fs::create_dir_all(s.path("xdg/clavis")).unwrap();
    std::fs::copy(&config, s.path("xdg/clavis/config.toml")).unwrap();
    let xdg = s.path("xdg").display().to_string();
    let s = s.with("XDG_CONFIG_HOME", &xdg);
    let by_env = s.fork().with("CLAVIS_PROFILE", "local");
    assert_eq!(by_env.json(&["list"]).await.as_array().unwrap().len(), 1);

    // The environment beats the profile, and a flag beats the environment.
    let other = by_env.with("CLAVIS_TENANT", "globex");
    let forbidden = other.run(&["list"]).await.expect(1);
    assert!(forbidden.stderr.contains("tenant globex"), "{forbidden:#?}");
    other.run(&["list", "--tenant", "acme"]).await.expect(0);

    // The default profile points at a closed port.
    let unreachable = s
        .run(&["list", "--tenant", "acme", "--token", "t"])
        .await
        .expect(1);
    assert!(
        unreachable
            .stderr
            .contains("could not reach http://127.0.0.1:9"),
        "{unreachable:#?}"
    );
    assert!(unreachable.stderr.contains("make run"), "{unreachable:#?}");

    let unknown = s.run(&["--profile", "staging", "list"]).await.expect(2);
    assert!(
        unknown.stderr.contains("no profile \"staging\""),
        "{unknown:#?}"
    );
    assert!(
        unknown.stderr.contains("Its profiles: default, local."),
        "{unknown:#?}"
    );

    let bare = Session::new(&api, "acme").without("CLAVIS_TOKEN");
    let no_token = bare.run(&["list"]).await.expect(2);
    assert!(
        no_token.stderr.contains("error: no management token given"),
        "{no_token:#?}"
    );
    assert!(no_token.stderr.contains("CLAVIS_TOKEN"), "{no_token:#?}");
    assert!(
        no_token.stderr.contains("clavis dev-token"),
        "{no_token:#?}"
    );
    let bad_url = bare
        .run(&["list", "--url", "localhost:3000", "--token", "t"])
        .await
        .expect(2);
    assert!(
        bad_url.stderr.contains("https://api.example.com"),
        "{bad_url:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_names_every_command_and_usage_errors_exit_2() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let help = s.run(&["--help"]).await.expect(0).stdout;
    let commands = [
        "create",
        "list",
        "show",
        "update",
        "expiry",
        "rotate",
        "suspend",
        "reactivate",
        "revoke",
        "delete",
        "audit",
        "policy",
        "usage",
        "webhooks",
        "report-leak",
        "token",
        "dev-token",
    ];
    for command in commands {
        assert!(
            help.contains(&format!("\n  {command} ")),
            "{command} in:\n{help}"
        );
    }
    assert!(help.contains("Exit status"), "{help}");
    for command in commands.iter().map(|c| vec![*c]).chain([
        vec!["expiry", "set"],
        vec!["expiry", "remove"],
        vec!["policy", "get"],
        vec!["policy", "set"],
        vec!["webhooks", "list"],
        vec!["webhooks", "show"],
        vec!["webhooks", "add"],
        vec!["webhooks", "update"],
        vec!["webhooks", "delete"],
        vec!["webhooks", "rotate-secret"],
        vec!["webhooks", "test"],
        vec!["webhooks", "deliveries"],
    ]) {
        let mut args = command.clone();
        args.push("--help");
        let text = s.run(&args).await.expect(0).stdout;
        assert!(
            text.contains(&format!("Usage: clavis {}", command.join(" "))),
            "{command:?}:\n{text}"
        );
        assert!(text.contains("Global options:"), "{command:?}:\n{text}");
    }
    let secret_help = s.run(&["create", "--help"]).await.stdout;
    assert!(
        secret_help.contains("cannot be shown again"),
        "{secret_help}"
    );
    assert!(
        !help.contains(&api.admin("acme")[..20]),
        "no token in the help"
    );

    let missing = s.run(&["create", "No scopes"]).await.expect(2);
    assert!(missing.stderr.contains("--scope <SCOPE>"), "{missing:#?}");
    let both = s
        .run(&[
            "expiry",
            "set",
            "cid_x",
            "--at",
            "2030-01-01",
            "--in-days",
            "3",
        ])
        .await
        .expect(2);
    assert!(both.stderr.contains("cannot be used with"), "{both:#?}");
    let bad_time = s
        .run(&["expiry", "set", "cid_x", "--at", "soon"])
        .await
        .expect(2);
    assert!(bad_time.stderr.contains("RFC 3339"), "{bad_time:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_get_and_set_and_a_blocked_credential_says_why() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let open = s.json(&["policy", "get"]).await;
    assert_eq!(open["version"], 0, "{open}");
    assert_eq!(open["allowed_environments"], json!(["live", "test"]));
    let text = s.run(&["policy", "get"]).await.expect(0).stdout;
    assert!(text.contains("never (the open policy)"), "{text}");

    // Made before the policy, without an expiry.
    let made = s
        .json(&["create", "Older", "--scope", "products:read"])
        .await;
    let id = made["credential"]["client_id"].as_str().unwrap().to_owned();

    let set = s
        .json(&[
            "policy",
            "set",
            "--max-lifetime-days",
            "30",
            "--max-grace",
            "1h",
            "--allowed-scope",
            "products:read,orders:read",
            "--allowed-environment",
            "live",
            "--leak-action",
            "suspend",
            "--if-match",
            "0",
        ])
        .await;
    assert_eq!(set["version"], 1);
    assert_eq!(set["max_lifetime_days"], 30);
    assert_eq!(set["max_grace_seconds"], 3600);
    assert_eq!(
        set["allowed_scopes"],
        json!(["orders:read", "products:read"])
    );
    assert_eq!(set["allowed_environments"], json!(["live"]));
    assert_eq!(set["leak_action"], "suspend");

    let shown = s.run(&["show", &id]).await.expect(0).stdout;
    assert!(
        shown.contains("Blocked") && shown.contains("expire within 30 days"),
        "{shown}"
    );
    // A change that breaks it is refused with the rule, exit status 1.
    let refused = s
        .run(&[
            "create",
            "Too long",
            "--scope",
            "products:read",
            "--expires-in-days",
            "31",
        ])
        .await
        .expect(1);
    assert!(
        refused.stderr.contains("expire within 30 days"),
        "{refused:#?}"
    );
    // A stale version changes nothing.
    let stale = s
        .run(&["policy", "set", "--require-expiry", "--if-match", "0"])
        .await
        .expect(1);
    assert!(
        stale.stderr.contains("version_mismatch") || stale.stderr.contains("changed"),
        "{stale:#?}"
    );
    // Setting replaces the whole policy: what a flag does not say is allowed again.
    let relaxed = s.json(&["policy", "set"]).await;
    assert_eq!(relaxed["max_lifetime_days"], Value::Null);
    assert_eq!(relaxed["allowed_scopes"], Value::Null);
    let shown = s.json(&["show", &id]).await;
    assert_eq!(shown["policy_violations"], json!([]));
    let events = s.json(&["audit"]).await;
    let changes = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "tenant.policy_changed")
        .count();
    assert_eq!(changes, 2, "{events}");
    let table = s.run(&["audit"]).await.expect(0).stdout;
    assert!(table.contains("(tenant)"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_prints_every_day_as_a_table_or_csv() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let made = s
        .json(&["create", "Counted", "--scope", "products:read"])
        .await;
    let who = clavis_tests::api::Integration::of(&made);
    for _ in 0..3 {
        api.access_token(&who).await;
    }
    api.flush_usage().await;

    let csv = s.run(&["usage", &who.id, "--csv"]).await.expect(0).stdout;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 31, "a header and 30 days: {csv}");
    assert_eq!(lines[0], "date,uses,refused");
    let today = api
        .fixture
        .now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(lines[30], format!("{today},3,0"));
    let report = s.json(&["usage", &who.id]).await;
    assert_eq!(report["total_uses"], 3);
    let tenant = s.run(&["usage"]).await.expect(0).stdout;
    assert!(
        tenant.contains("Most used") && tenant.contains("Counted"),
        "{tenant}"
    );
    let bad = s.run(&["usage", &who.id, "--from", "soon"]).await.expect(2);
    assert!(bad.stderr.contains("YYYY-MM-DD"), "{bad:#?}");
    let unused = s.json(&["list", "--unused-for-days", "30"]).await;
    assert_eq!(unused, json!([]), "used today");
}

/// A webhook endpoint as the API documents it.
fn webhook(id: &str, status: &str, event_types: Value) -> Value {
    json!({"id": id, "url": format!("https://hooks.example.com/{id}"),
           "event_types": event_types, "description": "Pager", "status": status,
           "disabled_reason": if status == "disabled" { json!("failing") } else { Value::Null },
           "created_at": "2026-12-06T18:00:00Z", "updated_at": "2026-12-06T18:00:00Z",
           "secret_rotated_at": null, "previous_secret_valid_until": null})
}

/// Answers the webhook routes as the API documents them (issue 31's shapes), for the CLI's
/// side of each command; what the server does is tested against the server.
fn webhook_api(request: &clavis_tests::stub::StubRequest) -> clavis_tests::stub::StubResponse {
    use clavis_tests::stub::StubResponse;
    const BASE: &str = "/v1/tenants/acme/webhooks";
    const ID: &str = "wh_01jz0000000000000000000000";
    let one = format!("{BASE}/{ID}");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8P9a7Lc6M2A=";
    let types = json!(["credential.revoked", "credential.leaked"]);
    let path = request.path();
    let (status, body) = match (request.method.as_str(), path) {
        ("POST", BASE) => (
            201,
            json!({"webhook": webhook(ID, "enabled", types), "secret": secret}),
        ),
        ("GET", BASE) => (
            200,
            json!({"webhooks": [webhook(ID, "enabled", types),
                                webhook("wh_01jz0000000000000000000001", "disabled", Value::Null)]}),
        ),
        ("GET" | "PATCH", p) if p == one => {
            (200, json!({"webhook": webhook(ID, "enabled", types)}))
        }
        ("DELETE", p) if p == one => return StubResponse::new(204),
        ("POST", p) if p == format!("{one}/rotate-secret") => {
            let mut rotated = webhook(ID, "enabled", types);
            rotated["secret_rotated_at"] = json!("2026-12-06T19:00:00Z");
            rotated["previous_secret_valid_until"] = json!("2026-12-07T19:00:00Z");
            (200, json!({"webhook": rotated, "secret": secret}))
        }
        ("POST", p) if p == format!("{one}/test") => {
            (202, json!({"event_id": "evt_01jz0000000000000000000009"}))
        }
        ("GET", p) if p == format!("{one}/deliveries") => {
            // Two a page, whatever the limit, so that the CLI must follow the cursor.
            let delivery = |n: u32, state: &str| {
                json!({"event_id": format!("evt_{n}"), "type": "credential.revoked",
                       "attempts": n, "last_status": if n.is_multiple_of(2) { json!(204) } else { Value::Null },
                       "last_error": if n.is_multiple_of(2) { Value::Null } else { json!("timeout") },
                       "next_attempt_at": null, "state": state,
                       "created_at": "2026-12-06T18:00:00Z"})
            };
            if request.target.contains("cursor=page2") {
                (
                    200,
                    json!({"deliveries": [delivery(2, "delivered"), delivery(1, "failed")],
                           "next_cursor": null}),
                )
            } else {
                (
                    200,
                    json!({"deliveries": [delivery(4, "delivered"), delivery(3, "pending")],
                           "next_cursor": "page2"}),
                )
            }
        }
        _ => (
            404,
            json!({"type": "about:blank", "title": "Not Found", "status": 404,
                   "detail": "No webhook endpoint wh_nope exists in this tenant.",
                   "code": "webhook_not_found"}),
        ),
    };
    StubResponse::new(status).json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_commands_send_what_the_api_expects_and_show_the_secret_once() {
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let log = Arc::clone(&seen);
    let api = clavis_tests::stub::Stub::serve(move |request| {
        let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        log.lock()
            .unwrap()
            .push((request.method.clone(), request.target.clone(), body));
        let reply = webhook_api(&request);
        async move { reply }
    })
    .await;
    let s = Session::against(&api.url(), "acme");
    let id = "wh_01jz0000000000000000000000";
    let one = format!("/v1/tenants/acme/webhooks/{id}");

    // For people: the secret once, with the warning, as `create` shows a client secret.
    let added = s
        .run(&[
            "webhooks",
            "add",
            "https://hooks.example.com/clavis",
            "--event",
            "credential.revoked,credential.leaked",
            "-d",
            "Pager",
        ])
        .await
        .expect(0);
    assert!(
        added.stdout.contains("Signing secret:  whsec_"),
        "{added:#?}"
    );
    assert!(added.stdout.contains("shown only once"), "{added:#?}");
    // For scripts: the secret in the JSON, the warning on stderr.
    let added = s
        .run(&["webhooks", "add", "https://hooks.example.com/all", "--json"])
        .await
        .expect(0);
    assert!(
        added.json()["secret"]
            .as_str()
            .unwrap()
            .starts_with("whsec_")
    );
    assert_eq!(added.json()["webhook"]["id"], id);
    assert!(added.stderr.contains("shown only once"), "{added:#?}");

    let listed = s.run(&["webhooks", "list"]).await.expect(0).stdout;
    assert!(listed.contains("disabled (failing)"), "{listed}");
    assert!(
        listed.contains("credential.revoked credential.leaked"),
        "{listed}"
    );
    let shown = s.run(&["webhooks", "show", id]).await.expect(0).stdout;
    assert!(shown.contains("https://hooks.example.com/"), "{shown}");
    assert_eq!(s.json(&["webhooks", "show", id]).await["status"], "enabled");

    s.run(&[
        "webhooks",
        "update",
        id,
        "--all-events",
        "--enable",
        "--description",
        "",
    ])
    .await
    .expect(0);
    s.run(&[
        "webhooks",
        "update",
        id,
        "--endpoint",
        "https://hooks.example.com/v2",
        "--event",
        "webhook.disabled",
        "--disable",
    ])
    .await
    .expect(0);
    // Nothing to change, or two contradicting flags: a usage error, and nothing is sent.
    let nothing = s.run(&["webhooks", "update", id]).await.expect(2);
    assert!(nothing.stderr.contains("nothing to update"), "{nothing:#?}");
    s.run(&["webhooks", "update", id, "--enable", "--disable"])
        .await
        .expect(2);
    s.run(&["webhooks", "update", id, "--event", "x.y", "--all-events"])
        .await
        .expect(2);

    let rotated = s
        .run(&["webhooks", "rotate-secret", id])
        .await
        .expect(0)
        .stdout;
    assert!(rotated.contains("Signing secret:  whsec_"), "{rotated}");
    assert!(
        rotated.contains("keeps signing until 2026-12-07"),
        "{rotated}"
    );
    let tested = s.run(&["webhooks", "test", id]).await.expect(0).stdout;
    assert!(
        tested.contains("evt_01jz0000000000000000000009"),
        "{tested}"
    );
    let deliveries = s
        .json(&["webhooks", "deliveries", id, "--limit", "3"])
        .await;
    let events: Vec<&str> = deliveries
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["evt_4", "evt_3", "evt_2"]);
    let table = s
        .run(&["webhooks", "deliveries", id])
        .await
        .expect(0)
        .stdout;
    assert!(
        table.contains("HTTP 204") && table.contains("timeout") && table.contains("failed"),
        "{table}"
    );

    // Deleting asks first; a script must say --yes.
    let unconfirmed = s.run(&["webhooks", "delete", id]).await.expect(3);
    assert!(unconfirmed.stderr.contains("--yes"), "{unconfirmed:#?}");
    let deleted = s
        .run(&["webhooks", "delete", id, "--yes"])
        .await
        .expect(0)
        .stdout;
    assert!(
        deleted.contains(&format!("Deleted webhook endpoint {id}")),
        "{deleted}"
    );
    let missing = s.run(&["webhooks", "show", "wh_nope"]).await.expect(1);
    assert!(
        missing.stderr.contains("webhook_not_found")
            && missing.stderr.contains("clavis webhooks list"),
        "{missing:#?}"
    );

    let seen = seen.lock().unwrap().clone();
    let base = "/v1/tenants/acme/webhooks".to_owned();
    let expected: Vec<(String, String, Value)> = vec![
        (
            "POST".into(),
            base.clone(),
            json!({"url": "https://hooks.example.com/clavis",
                   "event_types": ["credential.revoked", "credential.leaked"],
                   "description": "Pager"}),
        ),
        (
            "POST".into(),
            base.clone(),
            json!({"url": "https://hooks.example.com/all"}),
        ),
        ("GET".into(), base, Value::Null),
        ("GET".into(), one.clone(), Value::Null),
        ("GET".into(), one.clone(), Value::Null),
        (
            "PATCH".into(),
            one.clone(),
            json!({"event_types": null, "description": null, "status": "enabled"}),
        ),
        (
            "PATCH".into(),
            one.clone(),
            json!({"url": "https://hooks.example.com/v2",
                   "event_types": ["webhook.disabled"], "status": "disabled"}),
        ),
        ("POST".into(), format!("{one}/rotate-secret"), Value::Null),
        ("POST".into(), format!("{one}/test"), Value::Null),
        (
            "GET".into(),
            format!("{one}/deliveries?limit=3"),
            Value::Null,
        ),
        (
            "GET".into(),
            format!("{one}/deliveries?limit=1&cursor=page2"),
            Value::Null,
        ),
        (
            "GET".into(),
            format!("{one}/deliveries?limit=50"),
            Value::Null,
        ),
        (
            "GET".into(),
            format!("{one}/deliveries?limit=48&cursor=page2"),
            Value::Null,
        ),
        ("DELETE".into(), one, Value::Null),
        (
            "GET".into(),
            "/v1/tenants/acme/webhooks/wh_nope".into(),
            Value::Null,
        ),
    ];
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_leak_reads_the_secret_from_stdin_and_says_what_was_done() {
    let api = TestApi::memory().await;
    let s = Session::new(&api, "acme");
    let made = s
        .json(&["create", "Leaky", "--scope", "products:read"])
        .await;
    let who = clavis_tests::api::Integration::of(&made);
    let reported = s
        .run_with_stdin(
            &["report-leak", "--found-at", "https://pastebin.example/abc"],
            Some(&format!("{}\n", who.secret)),
        )
        .await
        .expect(0);
    assert!(
        reported.stdout.contains(&format!("{} is revoked", who.id)),
        "{reported:#?}"
    );
    assert!(!reported.stdout.contains(&who.secret) && !reported.stderr.contains(&who.secret));
    let shown = s.json(&["show", &who.id]).await;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["leak"]["url"], "https://pastebin.example/abc");
    let again = s
        .run_with_stdin(&["report-leak", "--json"], Some(&who.secret))
        .await
        .expect(0)
        .json();
    assert_eq!(again["already_reported"], true);
    // Not a Clavis secret: the API's refusal, without the text.
    let refused = s
        .run_with_stdin(&["report-leak"], Some("hunter2-not-a-secret\n"))
        .await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("invalid_secret"), "{refused:#?}");
    assert!(!refused.stderr.contains("hunter2"));
}
