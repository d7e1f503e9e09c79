//! The README's walk-through, run as written against a gateway on DynamoDB Local: every shell
//! block runs in one bash session, and what each prints must equal the block documented after it.

use std::process::Command;

use clavis_local::idp::DevClaims;
use clavis_tests::api::TestApi;

/// The walk-through's (shell, expected output) pairs, in order.
fn walkthrough() -> Vec<(String, Option<String>)> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- walkthrough -->")
        .expect("walk-through start marker");
    let end = readme
        .find("<!-- /walkthrough -->")
        .expect("walk-through end marker");
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = readme[start..end].lines();
    while let Some(line) = lines.next() {
        if let Some(language) = line.strip_prefix("```") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .collect();
            blocks.push((language.to_owned(), body.join("\n")));
        }
    }
    let mut steps = Vec::new();
    let mut blocks = blocks.into_iter().peekable();
    while let Some((language, body)) = blocks.next() {
        assert_eq!(language, "sh", "every output block follows a shell block");
        let expected = blocks.next_if(|(l, _)| l != "sh").map(|(_, b)| b);
        steps.push((body, expected));
    }
    steps
}

fn json_values(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_prints_what_it_documents() {
    let api = TestApi::dynamodb().await;
    let token = api
        .idp
        .mint(
            &DevClaims {
                sub: "dev-admin".into(),
                role: "admin".into(),
                tenant: Some("demo".into()),
                advises: vec![],
            },
            1,
        )
        .unwrap();
    let steps = walkthrough();
    assert!(steps.len() >= 6, "the walk-through has its steps");
    let mut script = String::from("set -euo pipefail\n");
    for (i, (shell, _)) in steps.iter().enumerate() {
        script.push_str(&format!("echo '@@step {i}@@'\n{shell}\n"));
    }
    let url = api.gateway.url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("CLAVIS_URL", url)
            .env("TOKEN", token)
            .output()
    })
    .await
    .unwrap()
    .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the walk-through failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Vec<&str> = stdout
        .split("@@step ")
        .skip(1)
        .map(|s| s.split_once("@@\n").map_or("", |(_, out)| out))
        .collect();
    assert_eq!(printed.len(), steps.len());
    for ((shell, expected), printed) in steps.iter().zip(printed) {
        if let Some(expected) = expected {
            assert_eq!(
                json_values(printed),
                json_values(expected),
                "step:\n{shell}"
            );
        }
    }
}
