//! A secret leaves Clavis exactly once: in the response that creates it. It is in no other
//! response, no log line, and nowhere in the table.

use clavis_core::secret::looks_like_secret;
use clavis_tests::api::{Reply, TestApi, captured_logs};
use clavis_tests::scan::table_text;
use reqwest::Method;
use serde_json::json;

fn transcript(reply: &Reply) -> String {
    let headers: Vec<String> = reply
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    format!("{}\n{}", headers.join("\n"), reply.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_secret_appears_in_exactly_one_response_and_in_no_log_or_item() {
    let api = TestApi::dynamodb().await;
    let token = api.admin("acme");
    let mut replies = Vec::new();
    let created = api
        .post(
            "/v1/tenants/acme/credentials",
            &token,
            json!({"name": "Shown once", "scopes": ["products:read"]}),
        )
        .await
        .expect(201);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let body = created.json();
    let id = body["credential"]["client_id"].as_str().unwrap().to_owned();
    let first = body["client_secret"].as_str().unwrap().to_owned();
    replies.push(created);
    let one = format!("/v1/tenants/acme/credentials/{id}");
    let rotated = api
        .post(
            &format!("{one}/rotate"),
            &token,
            json!({"previous_secret_valid_for_seconds": 60}),
        )
        .await
        .expect(200);
    assert_eq!(rotated.header("cache-control"), Some("no-store"));
    let second = rotated.json()["client_secret"].as_str().unwrap().to_owned();
    replies.push(rotated);
    for reply in [
        api.get(&one, &token).await,
        api.get("/v1/tenants/acme/credentials", &token).await,
        api.get(&format!("{one}/audit"), &token).await,
        api.get("/v1/tenants/acme/audit", &token).await,
        api.send(
            Method::PATCH,
            &one,
            Some(&token),
            Some(json!({"description": "still here"})),
            &[],
        )
        .await,
        api.post(&format!("{one}/suspend"), &token, json!({})).await,
        api.post(&format!("{one}/suspend"), &token, json!({})).await,
        api.send(
            Method::POST,
            &format!("{one}/reactivate"),
            Some(&token),
            None,
            &[("if-match", "\"1\"")],
        )
        .await,
        api.post(&format!("{one}/revoke"), &token, json!({"reason": "done"}))
            .await,
        api.get(&one, &token).await,
    ] {
        replies.push(reply);
    }
    let transcripts: Vec<String> = replies.iter().map(transcript).collect();
    for (secret, issued_in) in [(&first, 0), (&second, 1)] {
        let random_part = secret.split('_').nth(2).unwrap();
        let shown_in: Vec<usize> = (0..transcripts.len())
            .filter(|&i| transcripts[i].contains(random_part))
            .collect();
        assert_eq!(shown_in, [issued_in], "a secret is in exactly one response");
    }
    for (i, text) in transcripts.iter().enumerate().skip(2) {
        assert!(
            !text.split(['"', ' ', '\n']).any(looks_like_secret),
            "response {i} holds something secret-shaped"
        );
    }

    let logs = captured_logs();
    assert!(
        logs.contains(&id),
        "the capture works: request lines name the credential's path"
    );
    for secret in [&first, &second] {
        assert!(
            !logs.contains(secret.split('_').nth(2).unwrap()),
            "a secret reached the logs"
        );
    }
    assert!(
        !logs.split(['"', ' ', '\n', '=']).any(looks_like_secret),
        "something secret-shaped reached the logs"
    );
    assert!(
        !logs.contains("$argon2id$"),
        "hashes stay out of the logs too"
    );

    let (client, table) = api.fixture.table.as_ref().unwrap();
    for (entity, texts) in table_text(client, table).await {
        for text in texts {
            assert!(
                !looks_like_secret(&text),
                "a {entity} item holds something secret-shaped"
            );
            assert!(
                !text.contains(first.split('_').nth(2).unwrap())
                    && !text.contains(second.split('_').nth(2).unwrap())
            );
        }
    }
}
