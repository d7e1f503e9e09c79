//! The README's walk-through, run as written against a gateway on DynamoDB Local: every shell
//! block runs in one bash session, and what each prints must equal the block documented after it.

use clavis_local::idp::DevClaims;
use clavis_tests::api::TestApi;
use clavis_tests::readme::{fenced_blocks, run_bash};

/// The walk-through's (shell, expected output) pairs, in order.
fn walkthrough() -> Vec<(String, Option<String>)> {
    let blocks = fenced_blocks("<!-- walkthrough -->", "<!-- /walkthrough -->");
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
    let stdout = run_bash(script, move |bash| {
        bash.env("CLAVIS_URL", url).env("TOKEN", token);
    })
    .await;
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
