//! The README's section on the SDK and the CLI, kept true: its `clavis` commands run as written
//! against a local gateway, and its Rust integration is the SDK's compiled crate-level example.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use clavis_local::idp::LocalIdp;
use clavis_tests::api::TestApi;
use clavis_tests::readme::{fenced_blocks, run_bash};

/// The bodies of the README's fenced blocks in `language` between two markers.
fn blocks(start: &str, end: &str, language: &str) -> Vec<String> {
    fenced_blocks(start, end)
        .into_iter()
        .filter(|(tag, _)| tag == language)
        .map(|(_, body)| body)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_cli_commands_run_as_written() {
    let dir = std::env::temp_dir().join(format!("clavis-readme-{}", ulid::Ulid::generate()));
    // `make run` keeps its development key in `.data/` of the directory it runs in.
    let idp = LocalIdp::load_or_create(&dir.join(".data")).unwrap();
    let api = TestApi::memory_with_idp(idp).await;
    let shell = blocks(
        "<!-- cli-walkthrough -->",
        "<!-- /cli-walkthrough -->",
        "sh",
    );
    assert_eq!(shell.len(), 1, "one shell block");
    // The README's URL is `make run`'s; the gateway here listens where the test put it.
    let script = format!(
        "set -euo pipefail\n{}\n",
        shell[0].replace("http://127.0.0.1:3000", &api.gateway.url())
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_clavis"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run_in = dir.clone();
    let stdout = run_bash(script, move |bash| {
        bash.env_clear()
            .env("PATH", path)
            .env("HOME", &run_in)
            .current_dir(&run_in);
    })
    .await;
    assert!(stdout.contains("shown only once"), "{stdout}");
    assert!(stdout.contains("credential.revoked"), "{stdout}");
    assert!(stdout.contains("Deleted cid_"), "{stdout}");
    for file in ["inventory.env", "inventory-2.json"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_readme_integration_is_the_sdks_compiled_example() {
    let rust = blocks(
        "### An integration with the token source",
        "## Token service",
        "rust",
    );
    assert_eq!(rust.len(), 1, "one Rust block");
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/src/lib.rs"))
        .expect("sdk/src/lib.rs");
    let docs: String = lib
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        docs.contains(&rust[0]),
        "README's integration differs from the doc test in sdk/src/lib.rs (`cargo test --doc -p clavis-sdk` compiles that one); keep them the same"
    );
}
