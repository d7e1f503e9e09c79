//! Who can lock a key out (DESIGN: "What ends a token, and who can lock a key out"), on
//! DynamoDB Local through the local gateway, whose TCP peer is the source address: a stranger
//! who knows a public client ID and fails from one address throttles that address only.

use std::net::{IpAddr, Ipv4Addr};

use clavis_tests::api::{Integration, TestApi};

fn address(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A secret of the right shape (its checksum holds) that is not `who`'s.
async fn wrong_secret(api: &TestApi) -> String {
    api.integration("acme", &["products:read"]).await.secret
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_from_one_address_do_not_stop_the_right_secret_from_another() {
    let api = TestApi::dynamodb().await;
    let who = api.integration("acme", &["products:read"]).await;
    let wrong = wrong_secret(&api).await;
    let (stranger, owner) = (address(2), address(3));
    for _ in 0..10 {
        api.token_request_from(stranger, &who, &wrong)
            .await
            .expect(401);
    }
    let throttled = api.token_request_from(stranger, &who, &wrong).await;
    assert_eq!(throttled.status, 429, "{throttled:?}");
    assert_eq!(throttled.json()["error"], "slow_down");
    assert!(throttled.header("retry-after").is_some());
    // The owner's first request ever (nothing cached on this instance) is served.
    api.token_request_from(owner, &who, &who.secret)
        .await
        .expect(200);
    // From the stranger's address even the right secret waits, now cached.
    assert_eq!(
        api.token_request_from(stranger, &who, &who.secret)
            .await
            .status,
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_failing_across_client_ids_is_throttled_for_all_of_them() {
    let api = TestApi::dynamodb().await;
    let who = api.integration("acme", &["products:read"]).await;
    let wrong = wrong_secret(&api).await;
    let sprayer = address(4);
    // 100 failures over ten client IDs, ten each: no one ID reaches its own limit.
    for _ in 0..10 {
        let target = Integration {
            id: api.integration("acme", &["products:read"]).await.id,
            secret: wrong.clone(),
        };
        for _ in 0..10 {
            api.token_request_from(sprayer, &target, &wrong)
                .await
                .expect(401);
        }
    }
    assert_eq!(
        api.token_request_from(sprayer, &who, &who.secret)
            .await
            .status,
        429,
        "the address has spent its 100 failures"
    );
    api.token_request_from(address(5), &who, &who.secret)
        .await
        .expect(200);
}
