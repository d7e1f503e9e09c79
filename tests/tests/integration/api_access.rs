//! Who may do what: every route of the route table, for every kind of caller.

use clavis_api::routes::{
    Access, CredentialsEndpoint as C, Endpoint, ROUTES, Route, WebhooksEndpoint as W,
};
use clavis_local::idp::{DevClaims, LocalIdp};
use clavis_runtime::config::Env;
use clavis_tests::api::{Reply, TestApi};
use reqwest::Method;
use serde_json::{Value, json};

fn body_for(endpoint: Endpoint) -> Option<Value> {
    match endpoint {
        Endpoint::Credentials(C::Create) => {
            Some(json!({"name": "Matrix", "scopes": ["products:read"]}))
        }
        Endpoint::Credentials(C::Update) => Some(json!({"name": "Renamed"})),
        Endpoint::Credentials(C::UpdateExpiry) => Some(json!({"expires_at": null})),
        // A rule that refuses nothing the other routes' calls do.
        Endpoint::Credentials(C::PutPolicy) => Some(json!({"leak_action": "notify"})),
        Endpoint::Credentials(C::Suspend)
        | Endpoint::Credentials(C::RotateSecret)
        | Endpoint::Credentials(C::Revoke) => Some(json!({})),
        Endpoint::Webhooks(W::Create) => Some(json!({"url": "http://127.0.0.1:9/matrix"})),
        Endpoint::Webhooks(W::Update) => Some(json!({"description": "Matrix"})),
        _ => None,
    }
}

fn success_status(endpoint: Endpoint) -> u16 {
    match endpoint {
        Endpoint::Credentials(C::Create) | Endpoint::Webhooks(W::Create) => 201,
        Endpoint::Credentials(C::Delete) | Endpoint::Webhooks(W::Delete) => 204,
        Endpoint::Webhooks(W::Test) => 202,
        _ => 200,
    }
}

async fn call(
    api: &TestApi,
    route: &Route,
    tenant: &str,
    client_id: &str,
    token: Option<&str>,
) -> Reply {
    let path = route
        .path
        .replace("{tenant}", tenant)
        .replace("{client_id}", client_id)
        .replace("{webhook_id}", client_id);
    let method = Method::from_bytes(route.method.as_bytes()).unwrap();
    // A leak report names its credential by the secret `target` handed over.
    let body = match route.endpoint {
        Endpoint::Leaks(_) => Some(json!({ "secret": client_id })),
        other => body_for(other),
    };
    api.send(method, &path, token, body, &[]).await
}

/// A credential in the state the route acts on (reactivate needs a suspended one), or for the
/// webhook routes the tenant's one webhook (made afresh, so that the limit of 10 is never hit).
async fn target(api: &TestApi, endpoint: Endpoint) -> String {
    if let Endpoint::Webhooks(_) = endpoint {
        let admin = api.admin("acme");
        let listed = api
            .get("/v1/tenants/acme/webhooks", &admin)
            .await
            .expect(200)
            .json();
        for webhook in listed["webhooks"].as_array().into_iter().flatten() {
            let path = format!(
                "/v1/tenants/acme/webhooks/{}",
                webhook["id"].as_str().unwrap()
            );
            api.send(Method::DELETE, &path, Some(&admin), None, &[])
                .await
                .expect(204);
        }
        let created = api
            .post(
                "/v1/tenants/acme/webhooks",
                &admin,
                json!({"url": "http://127.0.0.1:9/matrix"}),
            )
            .await
            .expect(201)
            .json();
        return created["webhook"]["id"].as_str().unwrap().to_owned();
    }
    if let Endpoint::Leaks(_) = endpoint {
        let created = api
            .create(
                "acme",
                json!({"name": "Leaked", "scopes": ["products:read"]}),
            )
            .await;
        return created["client_secret"].as_str().unwrap().to_owned();
    }
    let id = api.create_in("acme").await;
    if endpoint == Endpoint::Credentials(C::Reactivate) {
        api.post(
            &format!("/v1/tenants/acme/credentials/{id}/suspend"),
            &api.admin("acme"),
            json!({}),
        )
        .await
        .expect(200);
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_admits_exactly_the_admins_and_advisors_of_the_tenant() {
    let api = TestApi::dynamodb_with(Env::default().with("WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let stranger_idp = LocalIdp::ephemeral().unwrap();
    let forged = stranger_idp
        .mint(
            &DevClaims {
                sub: "mallory".into(),
                role: "admin".into(),
                tenant: Some("acme".into()),
                advises: vec![],
            },
            1,
        )
        .unwrap();
    let expired = api
        .idp
        .mint(
            &DevClaims {
                sub: "late".into(),
                role: "admin".into(),
                tenant: Some("acme".into()),
                advises: vec![],
            },
            -1,
        )
        .unwrap();
    let allowed = [
        ("admin of acme", api.admin("acme")),
        (
            "advisor of acme",
            api.token("advisor", "agency", &["globex", "acme"]),
        ),
    ];
    let forbidden = [
        ("admin of globex", api.admin("globex")),
        (
            "advisor of others",
            api.token("advisor", "agency", &["globex"]),
        ),
        ("member of acme", api.token("member", "acme", &[])),
        ("viewer of acme", api.token("viewer", "acme", &["acme"])),
        ("role-less", api.token("", "acme", &[])),
    ];
    let unauthenticated = [
        ("no token", None),
        ("garbage", Some("garbage".to_owned())),
        ("foreign key", Some(forged)),
        ("expired", Some(expired)),
    ];
    let mut checked = 0;
    let managed: Vec<&Route> = ROUTES.iter().filter(|r| r.access == Access::Jwt).collect();
    for route in &managed {
        // What is the same for every tenant (the scope catalogue) is for anyone who may
        // manage some tenant; everything else only for those who may manage this one.
        let tenant_scoped = route.path.contains("{tenant}");
        let (forbidden, allowed): (Vec<_>, Vec<_>) = forbidden
            .iter()
            .map(|(who, token)| (*who, token.clone(), false))
            .chain(
                allowed
                    .iter()
                    .map(|(who, token)| (*who, token.clone(), true)),
            )
            .partition(|(who, _, allowed)| {
                !allowed
                    && (tenant_scoped
                        || matches!(*who, "member of acme" | "viewer of acme" | "role-less"))
            });
        let id = target(&api, route.endpoint).await;
        let trail_before = api.audit_len("acme").await;
        for (who, token) in &unauthenticated {
            let reply = call(&api, route, "acme", &id, token.as_deref()).await;
            assert_eq!(
                reply.status,
                401,
                "{who} on {}: {}",
                route.key(),
                reply.text
            );
            checked += 1;
        }
        // A tenant's policy is hidden from the managers of other tenants as a credential of
        // another tenant is: not even whether the tenant set one can be probed.
        let policy_route = matches!(
            route.endpoint,
            Endpoint::Credentials(C::GetPolicy | C::PutPolicy)
        );
        for (who, token, _) in &forbidden {
            let reply = call(&api, route, "acme", &id, Some(token)).await;
            let manages_another = matches!(*who, "admin of globex" | "advisor of others");
            let expected = if policy_route && manages_another {
                (404, "policy_not_found")
            } else {
                (403, "forbidden")
            };
            assert_eq!(
                (reply.status, reply.code().as_str()),
                expected,
                "{who} on {}",
                route.key()
            );
            checked += 1;
        }
        let trail_after = api.audit_len("acme").await;
        assert_eq!(
            trail_before,
            trail_after,
            "refused callers changed nothing on {}",
            route.key()
        );
        for (who, token, _) in &allowed {
            let id = target(&api, route.endpoint).await;
            let reply = call(&api, route, "acme", &id, Some(token)).await;
            assert_eq!(
                reply.status,
                success_status(route.endpoint),
                "{who} on {}: {}",
                route.key(),
                reply.text
            );
            checked += 1;
        }
    }
    assert_eq!(checked, managed.len() * 11);
    assert_eq!(managed.len(), 26, "every management route is in the matrix");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_credential_is_indistinguishable_from_none() {
    let api = TestApi::dynamodb().await;
    let id = target(&api, Endpoint::Credentials(C::Get)).await;
    let globex = api.admin("globex");
    for route in ROUTES.iter().filter(|r| r.path.contains("{client_id}")) {
        let probe = call(&api, route, "globex", &id, Some(&globex))
            .await
            .expect_problem(404, "credential_not_found");
        let unknown = call(
            &api,
            route,
            "globex",
            "cid_aaaaaaaaaaaaaaaaaaaaaaaaaa",
            Some(&globex),
        )
        .await;
        assert_eq!(
            probe.json()["detail"].as_str().map(|d| d.replace(&id, "")),
            unknown.json()["detail"]
                .as_str()
                .map(|d| d.replace("cid_aaaaaaaaaaaaaaaaaaaaaaaaaa", ""))
        );
    }
    // And it is untouched.
    let shown = api
        .get(
            &format!("/v1/tenants/acme/credentials/{id}"),
            &api.admin("acme"),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(
        (shown["version"].as_u64(), shown["status"].as_str()),
        (Some(1), Some("active"))
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_get_api_gateways_404() {
    let api = TestApi::memory().await;
    let token = api.admin("acme");
    for (method, path) in [
        (Method::GET, "/v1/nothing"),
        (Method::PUT, "/v1/tenants/acme/credentials"),
        (Method::GET, "/"),
    ] {
        let reply = api.send(method, path, Some(&token), None, &[]).await;
        assert_eq!(
            (reply.status, reply.json()),
            (404, json!({"message": "Not Found"}))
        );
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case_as_rfc_9110_says() {
    let api = TestApi::memory().await;
    let token = api.admin("acme");
    for (scheme, status) in [
        ("Bearer", 200),
        ("bearer", 200),
        ("BEARER", 200),
        ("Basic", 401),
    ] {
        let authorization = format!("{scheme} {token}");
        let reply = api
            .send(
                Method::GET,
                "/v1/tenants/acme/credentials",
                None,
                None,
                &[("authorization", authorization.as_str())],
            )
            .await;
        assert_eq!(reply.status, status, "{scheme}: {reply:?}");
    }
}
