//! The deployed shape and the code must not drift apart: the SAM template's routes, the OpenAPI
//! document's operations and the code's route table are one set; the template's table is the
//! table the code creates; every function in the template has a binary and every binary a
//! function.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, delete_item::DeleteItemInput, get_item::GetItemInput,
    put_item::PutItemInput, query::QueryInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput,
};
use clavis_api::routes::{
    AUTHORIZER_FUNCTION, Access, DELIVERER_FUNCTION, PUBLISHER_FUNCTION, ROUTES, Route,
    SWEEPER_FUNCTION,
};
use clavis_core::events::{Deliverer, DeliveryQueue, Publisher, QueueError};
use clavis_core::store::{AuditScope, PageRequest, Retention, SharedStore};
use clavis_core::sweep::Sweeper;
use clavis_core::time::{Clock, ManualClock, SystemClock};
use clavis_core::webhook::delivery::DeliveryTicket;
use clavis_dynamodb::DynamoStore;
use clavis_dynamodb::schema::TABLE;
use clavis_runtime::compose::Ports;
use clavis_runtime::config::Env;
use clavis_runtime::webhooks::HttpSender;
use clavis_tests::Fixture;
use clavis_tests::api::{Integration, TestApi};
use clavis_tests::github::GithubScanner;
use clavis_tests::receiver::Receiver;
use clavis_tests::stub::{Stub, StubResponse};
use yaml_serde::Value;

const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// One route as every source can state it: `(method, path, function, access)`.
type RouteEntry = (String, String, String, Access);

fn yaml(relative: &str) -> Value {
    let path = Path::new(WORKSPACE).join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn template() -> Value {
    yaml("infra/template.yaml")
}

fn openapi() -> Value {
    yaml("infra/openapi.yaml")
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

fn mapping(value: &Value) -> &yaml_serde::Mapping {
    value
        .as_mapping()
        .unwrap_or_else(|| panic!("expected a mapping, found {value:?}"))
}

/// The template's functions by name: the binary its `CodeUri` packages.
fn template_functions(template: &Value) -> BTreeMap<String, &Value> {
    mapping(&template["Resources"])
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::Serverless::Function")
        .map(|(id, resource)| {
            let properties = &resource["Properties"];
            let code_uri = text(&properties["CodeUri"]);
            let name = code_uri
                .strip_prefix("../target/lambda/")
                .and_then(|rest| rest.strip_suffix('/'))
                .unwrap_or_else(|| {
                    panic!("{id:?}: CodeUri {code_uri} is not ../target/lambda/<function>/")
                });
            (name.to_owned(), properties)
        })
        .collect()
}

fn template_routes(template: &Value) -> BTreeSet<RouteEntry> {
    let mut routes = BTreeSet::new();
    for (function, properties) in template_functions(template) {
        let Some(events) = properties["Events"].as_mapping() else {
            continue;
        };
        for event in events.values().filter(|e| e["Type"] == "HttpApi") {
            let event = &event["Properties"];
            // The API's default authorizer is the JWT one; public routes opt out with NONE.
            let access = match event["Auth"]["Authorizer"].as_str() {
                Some("NONE") => Access::Public,
                None => Access::Jwt,
                Some(other) => panic!("{function}: unexpected authorizer {other}"),
            };
            routes.insert((
                text(&event["Method"]).to_owned(),
                text(&event["Path"]).to_owned(),
                function.clone(),
                access,
            ));
        }
    }
    routes
}

fn openapi_routes(openapi: &Value) -> BTreeSet<RouteEntry> {
    // A route needs the management token when it requires an HTTP bearer scheme.
    let bearer_schemes: BTreeSet<&str> = openapi["components"]["securitySchemes"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter(|(_, scheme)| scheme["type"] == "http" && scheme["scheme"] == "bearer")
        .map(|(name, _)| text(name))
        .collect();
    let mut routes = BTreeSet::new();
    for (path, item) in mapping(&openapi["paths"]) {
        for (method, operation) in mapping(item) {
            let method = text(method);
            if !["get", "put", "post", "delete", "patch"].contains(&method) {
                continue; // parameters, summary, …
            }
            let security = operation
                .get("security")
                .or_else(|| openapi.get("security"))
                .and_then(Value::as_sequence);
            let needs_bearer = security.into_iter().flatten().any(|requirement| {
                bearer_schemes
                    .iter()
                    .any(|scheme| requirement.get(*scheme).is_some())
            });
            let access = if needs_bearer {
                Access::Jwt
            } else {
                Access::Public
            };
            routes.insert((
                method.to_uppercase(),
                text(path).to_owned(),
                text(&operation["x-clavis-function"]).to_owned(),
                access,
            ));
        }
    }
    routes
}

fn code_routes(routes: &[Route]) -> BTreeSet<RouteEntry> {
    routes
        .iter()
        .map(|r| {
            let function = r.endpoint.function().to_owned();
            (r.method.to_owned(), r.path.to_owned(), function, r.access)
        })
        .collect()
}

/// Every route that one source has and another lacks, named by where it is missing.
fn route_drift(sources: &[(&str, BTreeSet<RouteEntry>)]) -> Vec<String> {
    let all: BTreeSet<&RouteEntry> = sources.iter().flat_map(|(_, routes)| routes).collect();
    let mut drift = Vec::new();
    for route in all {
        for (name, routes) in sources {
            if !routes.contains(route) {
                let (method, path, function, access) = route;
                drift.push(format!(
                    "{method} {path} ({function}, {access:?}) is missing from {name}"
                ));
            }
        }
    }
    drift
}

fn drift_between(code: &[Route], template: &Value, openapi: &Value) -> Vec<String> {
    route_drift(&[
        ("the route table", code_routes(code)),
        ("infra/template.yaml", template_routes(template)),
        ("infra/openapi.yaml", openapi_routes(openapi)),
    ])
}

#[test]
fn template_openapi_and_route_table_list_the_same_routes() {
    let drift = drift_between(&ROUTES, &template(), &openapi());
    assert!(drift.is_empty(), "routes drifted:\n{}", drift.join("\n"));
    assert_eq!(template_routes(&template()).len(), ROUTES.len());
}

#[test]
fn a_route_removed_from_any_one_place_is_reported() {
    let (template, openapi) = (template(), openapi());
    let removed = ROUTES[3]; // PATCH …/{client_id}, whose path also serves GET and DELETE
    let expected = |place: &str| {
        vec![format!(
            "{} {} ({}, {:?}) is missing from {place}",
            removed.method,
            removed.path,
            removed.endpoint.function(),
            removed.access
        )]
    };

    let code: Vec<Route> = ROUTES.iter().copied().filter(|r| *r != removed).collect();
    assert_eq!(
        drift_between(&code, &template, &openapi),
        expected("the route table")
    );

    let mut without = template.clone();
    let functions = without["Resources"]
        .as_mapping_mut()
        .expect("Resources")
        .values_mut()
        .filter(|r| r["Properties"]["CodeUri"] == "../target/lambda/update-credential/");
    for function in functions {
        function["Properties"]["Events"] = Value::Mapping(Default::default());
    }
    assert_eq!(
        drift_between(&ROUTES, &without, &openapi),
        expected("infra/template.yaml")
    );

    let mut without = openapi.clone();
    without["paths"][removed.path]
        .as_mapping_mut()
        .expect("path item")
        .remove("patch");
    assert_eq!(
        drift_between(&ROUTES, &template, &without),
        expected("infra/openapi.yaml")
    );
}

#[test]
fn every_template_function_has_a_binary_and_every_binary_a_function() {
    let template = template();
    let in_template: BTreeSet<String> = template_functions(&template).into_keys().collect();
    let binaries: BTreeSet<String> =
        std::fs::read_dir(Path::new(WORKSPACE).join("functions/src/bin"))
            .expect("functions/src/bin")
            .map(|entry| {
                let path = entry.expect("directory entry").path();
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .expect("file name");
                stem.to_owned()
            })
            .collect();
    assert_eq!(in_template, binaries);

    // Routed functions are the route table's; left over are the request authorizer (attached
    // to the platform's API, not this one) and the scheduled sweeper.
    let routed: BTreeSet<String> = clavis_api::routes::functions()
        .into_iter()
        .map(String::from)
        .collect();
    let unrouted: Vec<&String> = binaries.difference(&routed).collect();
    // In name order: the authorizer, the deliverer (the delivery queue's), the publisher (the
    // table stream's) and the sweeper (a schedule's).
    assert_eq!(
        unrouted,
        [
            AUTHORIZER_FUNCTION,
            DELIVERER_FUNCTION,
            PUBLISHER_FUNCTION,
            SWEEPER_FUNCTION
        ]
    );
    for function in [PUBLISHER_FUNCTION, DELIVERER_FUNCTION] {
        assert!(
            template_functions(&template)[function]
                .get("Events")
                .is_none(),
            "{function} is run by an event source mapping of its own, not a SAM event"
        );
    }
    let authorizer = &template_functions(&template)[AUTHORIZER_FUNCTION];
    assert!(
        authorizer.get("Events").is_none(),
        "the authorizer serves no route of Clavis's API"
    );
    let outputs = &template["Outputs"]["AuthorizeRequestFunctionArn"];
    assert!(
        matches!(&outputs["Value"], Value::Tagged(t) if text(&t.value) == "AuthorizeRequestFunction.Arn"),
        "the stack exports the authorizer's ARN: {outputs:?}"
    );
    assert!(
        matches!(outputs["Export"]["Name"], Value::Tagged(_)),
        "exported under a name of this stack: {outputs:?}"
    );
}

#[test]
fn functions_run_on_arm64_al2023_and_the_sweeper_every_15_minutes() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"][0], "arm64");
    assert_eq!(globals["Handler"], "bootstrap");
    let functions = template_functions(&template);
    for (name, properties) in &functions {
        assert!(
            properties.get("Runtime").is_none(),
            "{name} overrides the runtime"
        );
        assert!(
            properties.get("Architectures").is_none(),
            "{name} overrides the architecture"
        );
        let log_group = &properties["LoggingConfig"]["LogGroup"];
        assert!(
            matches!(log_group, Value::Tagged(_)),
            "{name} logs to a group of this stack (with retention)"
        );
    }
    let sweeper = functions[SWEEPER_FUNCTION]["Events"]
        .as_mapping()
        .expect("sweep-expired events");
    let schedules: Vec<&str> = sweeper
        .values()
        .map(|e| {
            assert_eq!(e["Type"], "Schedule", "the sweeper is only ever scheduled");
            text(&e["Properties"]["Schedule"])
        })
        .collect();
    assert_eq!(schedules, ["rate(15 minutes)"]);
}

#[tokio::test]
async fn the_template_table_is_the_table_the_code_creates() {
    let template = template();
    let table = &template["Resources"]["Table"]["Properties"];

    // What `create_table` makes, as DynamoDB Local describes it.
    let (settings, client) = clavis_tests::fresh_table().await;
    let described = client
        .describe_table()
        .table_name(&settings.table_name)
        .send()
        .await
        .expect("describe table")
        .table
        .expect("table");
    let ttl = client
        .describe_time_to_live()
        .table_name(&settings.table_name)
        .send()
        .await
        .expect("describe ttl")
        .time_to_live_description
        .expect("ttl description");

    let key_schema = |keys: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        keys.iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    let template_key_schema = |keys: &Value| -> Vec<(String, String)> {
        keys.as_sequence()
            .expect("KeySchema")
            .iter()
            .map(|k| {
                (
                    text(&k["AttributeName"]).to_owned(),
                    text(&k["KeyType"]).to_owned(),
                )
            })
            .collect()
    };

    assert_eq!(
        template_key_schema(&table["KeySchema"]),
        key_schema(described.key_schema())
    );
    let attributes = |pairs: Vec<(String, String)>| pairs.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        attributes(
            table["AttributeDefinitions"]
                .as_sequence()
                .expect("AttributeDefinitions")
                .iter()
                .map(|a| (
                    text(&a["AttributeName"]).to_owned(),
                    text(&a["AttributeType"]).to_owned()
                ))
                .collect()
        ),
        attributes(
            described
                .attribute_definitions()
                .iter()
                .map(|a| (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned()
                ))
                .collect()
        )
    );
    let template_indexes: BTreeMap<String, (Vec<(String, String)>, String)> =
        table["GlobalSecondaryIndexes"]
            .as_sequence()
            .expect("GlobalSecondaryIndexes")
            .iter()
            .map(|i| {
                (
                    text(&i["IndexName"]).to_owned(),
                    (
                        template_key_schema(&i["KeySchema"]),
                        text(&i["Projection"]["ProjectionType"]).to_owned(),
                    ),
                )
            })
            .collect();
    let created_indexes: BTreeMap<String, (Vec<(String, String)>, String)> = described
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection().and_then(|p| p.projection_type());
            (
                i.index_name().unwrap_or_default().to_owned(),
                (
                    key_schema(i.key_schema()),
                    projection
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            )
        })
        .collect();
    assert_eq!(template_indexes, created_indexes);
    assert_eq!(
        template_indexes
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        TABLE.indexes.map(|i| i.name)
    );

    let billing = described
        .billing_mode_summary()
        .and_then(|b| b.billing_mode());
    assert_eq!(
        Some(text(&table["BillingMode"])),
        billing.map(|b| b.as_str())
    );
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        Some(text(&table["TimeToLiveSpecification"]["AttributeName"])),
        ttl.attribute_name()
    );
    assert_eq!(ttl.attribute_name(), Some(TABLE.ttl_attribute));

    // What only AWS has: backups always, and deletion protection in production.
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let protection: Value =
        yaml_serde::from_str("!If [IsProduction, true, false]").expect("literal");
    assert_eq!(table["DeletionProtectionEnabled"], protection);
    let production: Value = yaml_serde::from_str("!Equals [!Ref Stage, prod]").expect("literal");
    assert_eq!(template["Conditions"]["IsProduction"], production);
    assert_eq!(template["Resources"]["Table"]["DeletionPolicy"], "Retain");
}

/// A `$ref` followed within the document, or the value itself.
fn resolved<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").map(text) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix("#/")
                .unwrap_or_else(|| panic!("{reference} is not a local reference"));
            let target = pointer.split('/').fold(document, |node, name| &node[name]);
            assert!(!target.is_null(), "{reference} leads nowhere");
            resolved(document, target)
        }
        None => value,
    }
}

/// An operation whose function touches the table can meet a database that is unavailable, and
/// the document must say how it answers then: 503 with a `Retry-After` the caller can count on,
/// `service_unavailable` on `/v1`, `temporarily_unavailable` on `/oauth`. Which functions touch
/// the table is read from the template's grants (checked against the calls each function
/// makes below); the discovery documents touch nothing and never answer 503.
#[test]
fn every_operation_that_uses_the_table_documents_503_with_retry_after() {
    let openapi = openapi();
    let grants = template_grants(&template());
    let mut documented = BTreeSet::new();
    for (path, item) in mapping(&openapi["paths"]) {
        let path = text(path);
        for (method, operation) in mapping(item) {
            let method = text(method);
            if !["get", "put", "post", "delete", "patch"].contains(&method) {
                continue;
            }
            let function = text(&operation["x-clavis-function"]);
            let uses_table = grants.get(function).is_some_and(|g| !g.is_empty());
            let unavailable = operation["responses"].get("503");
            let Some(unavailable) = unavailable.map(|r| resolved(&openapi, r)) else {
                assert!(
                    !uses_table,
                    "{method} {path} ({function}) does not document 503"
                );
                continue;
            };
            assert!(uses_table, "{method} {path} ({function}) never answers 503");
            let retry_after = resolved(&openapi, &unavailable["headers"]["Retry-After"]);
            assert_eq!(
                retry_after["required"], true,
                "{method} {path}: Retry-After must be a required header of the 503"
            );
            if path.starts_with("/v1/") {
                let schema = resolved(
                    &openapi,
                    &unavailable["content"]["application/problem+json"]["schema"],
                );
                let parts = schema["allOf"].as_sequence().expect("allOf");
                assert!(
                    parts
                        .iter()
                        .any(|part| part["properties"]["code"]["const"] == "service_unavailable"),
                    "{method} {path}: the 503 must carry code service_unavailable"
                );
            } else {
                let schema = resolved(
                    &openapi,
                    &unavailable["content"]["application/json"]["schema"],
                );
                let errors = schema["properties"]["error"]["enum"]
                    .as_sequence()
                    .expect("OAuth error codes");
                assert!(
                    errors.iter().any(|e| e == "temporarily_unavailable"),
                    "{method} {path}"
                );
            }
            documented.insert(function.to_owned());
        }
    }
    let using: BTreeSet<String> = grants
        .into_iter()
        .filter(|(_, g)| !g.is_empty())
        .map(|(function, _)| function)
        .filter(|function| {
            ![
                SWEEPER_FUNCTION,
                AUTHORIZER_FUNCTION,
                PUBLISHER_FUNCTION,
                DELIVERER_FUNCTION,
            ]
            .contains(&function.as_str())
        })
        .collect();
    assert_eq!(documented, using);
}

// ---------------------------------------------------------------------------------------------
// Least privilege: each function's IAM policy names exactly the DynamoDB actions its handlers
// use, on the table or the one index they query, as recorded from the SDK calls they make.

/// `(IAM action, resource)`, the resource being `table` or `index/<name>`.
type Grant = (String, String);

/// Records every DynamoDB call a client makes, as the IAM actions it needs.
#[derive(Debug, Default, Clone)]
struct RecordGrants(Arc<Mutex<BTreeSet<Grant>>>);

impl RecordGrants {
    fn take(&self) -> BTreeSet<Grant> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Intercept for RecordGrants {
    fn name(&self) -> &'static str {
        "RecordGrants"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        let table = |action: &str| (format!("dynamodb:{action}"), "table".to_owned());
        let mut grants = Vec::new();
        if let Some(query) = input.downcast_ref::<QueryInput>() {
            let resource = query
                .index_name()
                .map_or_else(|| "table".to_owned(), |index| format!("index/{index}"));
            grants.push(("dynamodb:Query".to_owned(), resource));
        } else if input.downcast_ref::<GetItemInput>().is_some() {
            grants.push(table("GetItem"));
        } else if input.downcast_ref::<PutItemInput>().is_some() {
            grants.push(table("PutItem"));
        } else if input.downcast_ref::<UpdateItemInput>().is_some() {
            grants.push(table("UpdateItem"));
        } else if input.downcast_ref::<DeleteItemInput>().is_some() {
            grants.push(table("DeleteItem"));
        } else if input.downcast_ref::<BatchGetItemInput>().is_some() {
            grants.push(table("BatchGetItem"));
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            // IAM authorises each item of a transaction as its single-item action.
            for item in transaction.transact_items() {
                let action = match () {
                    () if item.put().is_some() => "PutItem",
                    () if item.update().is_some() => "UpdateItem",
                    () if item.delete().is_some() => "DeleteItem",
                    () => "ConditionCheckItem",
                };
                grants.push(table(action));
            }
        } else {
            grants.push(("an operation this test does not know".into(), "?".into()));
        }
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(grants);
        Ok(())
    }
}

/// What the template grants each function on the table.
fn template_grants(template: &Value) -> BTreeMap<String, BTreeSet<Grant>> {
    let resource = |value: &Value| -> String {
        let Value::Tagged(tagged) = value else {
            panic!("policy resource {value:?} is not a reference to the table");
        };
        match (tagged.tag.to_string().as_str(), text(&tagged.value)) {
            ("!GetAtt", "Table.Arn") => "table".to_owned(),
            ("!Sub", sub) => match sub.strip_prefix("${Table.Arn}/index/") {
                Some(index) => format!("index/{index}"),
                None => panic!("policy resource {sub} is not the table or one of its indexes"),
            },
            (tag, value) => panic!("policy resource {tag} {value} is not the table"),
        }
    };
    template_functions(template)
        .into_iter()
        .map(|(function, properties)| {
            let mut grants = BTreeSet::new();
            let policies = properties["Policies"].as_sequence().into_iter().flatten();
            for statement in
                policies.flat_map(|p| p["Statement"].as_sequence().into_iter().flatten())
            {
                assert_eq!(statement["Effect"], "Allow", "{function}");
                let resources: Vec<String> = match &statement["Resource"] {
                    Value::Sequence(list) => list.iter().map(resource).collect(),
                    one => vec![resource(one)],
                };
                let actions = statement["Action"].as_sequence().expect("Action list");
                for action in actions {
                    for resource in &resources {
                        grants.insert((text(action).to_owned(), resource.clone()));
                    }
                }
            }
            (function, grants)
        })
        .collect()
}

/// The DynamoDB calls each function made, filed by function as the test drives the API.
struct Usage<'a> {
    api: &'a TestApi,
    recorder: RecordGrants,
    used: BTreeMap<String, BTreeSet<Grant>>,
}

impl Usage<'_> {
    /// Files everything recorded since the last call under `function`.
    fn file(&mut self, function: &str) {
        let grants = self.recorder.take();
        self.used
            .entry(function.to_owned())
            .or_default()
            .extend(grants);
    }

    /// A management request as the tenant's admin, filed under the function that served it.
    async fn manage(
        &mut self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        if_match: Option<&str>,
    ) {
        let without_query = path.split('?').next().unwrap_or(path);
        let (route, _) =
            clavis_api::routes::find_route(method.as_str(), without_query).expect("a route");
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        let reply = self
            .api
            .send(method, path, Some(&self.api.admin("iam")), body, &headers)
            .await;
        let function = route.endpoint.function();
        assert!(reply.status < 500, "{function}: {}", reply.status);
        self.file(function);
    }
}

/// The delivery queue as a list the test works through.
#[derive(Default)]
struct Tickets(Mutex<Vec<DeliveryTicket>>);

impl Tickets {
    fn next(&self) -> Option<DeliveryTicket> {
        let mut tickets = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (!tickets.is_empty()).then(|| tickets.remove(0))
    }
}

#[async_trait::async_trait]
impl DeliveryQueue for Tickets {
    async fn enqueue(
        &self,
        ticket: &DeliveryTicket,
        _delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(ticket.clone());
        Ok(())
    }
}

#[tokio::test]
async fn each_function_is_granted_exactly_the_dynamodb_actions_it_uses() {
    use reqwest::Method;
    use serde_json::json;

    let (settings, client) = clavis_tests::fresh_table().await;
    let recorder = RecordGrants::default();
    let recording = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let store: SharedStore = Arc::new(
        DynamoStore::new(
            recording,
            settings.table_name.clone(),
            clock.clone(),
            Retention::default(),
        )
        .with_webhook_url_key(Arc::new(clavis_core::webhook::UrlKey::generate())),
    );
    let fixture = Fixture {
        store: Arc::clone(&store),
        clock: clock.clone(),
        table: None,
        feed: clavis_tests::stream_feed(&settings, settings.client().await),
    };
    let upstream = Stub::serve(|_| async { StubResponse::new(204) }).await;
    let scanner = GithubScanner::new("iam-github");
    let api = TestApi::over(
        fixture,
        Env::default()
            .with("CLAVIS_UPSTREAM", upstream.url())
            .with("ROUTE_SCOPES", r#"{"GET /products": ["products:read"]}"#)
            .with("WEBHOOK_ALLOW_PRIVATE", "true")
            .with("WEBHOOK_RETRY_SCHEDULE", "1")
            .with("GITHUB_SECRET_SCANNING_KEYS", scanner.key_set()),
    )
    .await;
    // Every function starts with nothing; discovery must stay that way.
    let used = ROUTES
        .iter()
        .map(|r| (r.endpoint.function().to_owned(), BTreeSet::new()))
        .collect();
    let mut usage = Usage {
        api: &api,
        recorder: recorder.clone(),
        used,
    };

    let base = "/v1/tenants/iam/credentials";
    let body = |name: &str, days: u32| json!({"name": name, "scopes": ["products:read"], "expires_in_days": days});
    let created = api.create("iam", body("IAM", 10)).await;
    // Another credential's secret is well formed (its checksum holds), so presenting it for
    // the first costs a hash and counts as a failure.
    let wrong = api.create("iam", body("Other", 10)).await["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    // A create made with an idempotency key, and its repeat, which reads the key's record.
    let admin = api.admin("iam");
    let keyed = [("idempotency-key", "iam-create-0123456789abcdef-0123456789")];
    for _ in 0..2 {
        api.send(
            Method::POST,
            base,
            Some(&admin),
            Some(body("Keyed", 10)),
            &keyed,
        )
        .await
        .expect(201);
    }
    usage.file("create-credential");
    let Integration { id, secret } = Integration::of(&created);
    let credential = format!("{base}/{id}");
    let stale = Some("\"0\"");

    usage.manage(Method::GET, base, None, None).await;
    usage
        .manage(
            Method::GET,
            &format!("{base}?status=active&limit=1"),
            None,
            None,
        )
        .await;
    usage.manage(Method::GET, &credential, None, None).await;
    // The tenant's policy: read, set, and set against a stale version.
    let policy = "/v1/tenants/iam/policy";
    usage.manage(Method::GET, policy, None, None).await;
    let grace = |seconds: u32| Some(json!({"max_grace_seconds": seconds}));
    usage.manage(Method::PUT, policy, grace(86_400), None).await;
    usage.manage(Method::PUT, policy, grace(3_600), stale).await;
    // The usage dashboard: a credential's days, then the tenant's with its top credentials.
    usage
        .manage(Method::GET, &format!("{credential}/usage"), None, None)
        .await;
    usage
        .manage(Method::GET, "/v1/tenants/iam/usage", None, None)
        .await;
    usage
        .manage(
            Method::PATCH,
            &credential,
            Some(json!({"name": "IAM 2"})),
            None,
        )
        .await;
    usage
        .manage(
            Method::PATCH,
            &credential,
            Some(json!({"name": "IAM 3"})),
            stale,
        )
        .await;
    usage
        .manage(
            Method::PUT,
            &format!("{credential}/expiry"),
            Some(json!({"expires_at": null})),
            None,
        )
        .await;
    usage
        .manage(
            Method::POST,
            &format!("{credential}/suspend"),
            Some(json!({})),
            None,
        )
        .await;
    usage
        .manage(
            Method::POST,
            &format!("{credential}/reactivate"),
            Some(json!({})),
            None,
        )
        .await;
    usage
        .manage(Method::GET, &format!("{credential}/audit"), None, None)
        .await;
    usage
        .manage(Method::GET, "/v1/tenants/iam/audit", None, None)
        .await;

    // The token service: a good secret (twice) and a wrong one at each endpoint, then discovery.
    let grant = [("grant_type", "client_credentials")];
    let reply = api
        .form("/oauth/token", Some((&id, &secret)), &grant)
        .await
        .expect(200);
    let token = reply.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    // A repeat: the secret is known to the instance, so the credential alone is read.
    api.form("/oauth/token", Some((&id, &secret)), &grant)
        .await
        .expect(200);
    api.form("/oauth/token", Some((&id, &wrong)), &grant)
        .await
        .expect(401);
    // Uses are written in batches in the background; the function writes them all the same.
    api.flush_usage().await;
    usage.file("issue-token");
    for (path, function) in [
        ("/oauth/introspect", "introspect-token"),
        ("/oauth/revoke", "revoke-token"),
    ] {
        // A caller new to the function, as every caller is to a cold instance: its tenant's
        // policy is read once, on its own.
        let caller = Integration::of(&api.create("iam", body(function, 10)).await);
        usage.file("create-credential");
        api.form(
            path,
            Some((&caller.id, &caller.secret)),
            &[("token", "not-a-token")],
        )
        .await
        .expect(200);
        api.form(path, Some((&id, &secret)), &[("token", &token)])
            .await
            .expect(200);
        api.form(path, Some((&id, &wrong)), &[("token", &token)])
            .await
            .expect(401);
        api.flush_usage().await;
        usage.file(function);
    }
    // The request authorizer: a token, a key (right, again, then wrong), and a key with a quota,
    // whose usage counter is read.
    let metered = Integration::of(
        &api.create(
            "iam",
            // One request reaches both quota thresholds, which the authorizer records.
            json!({"name": "Metered", "scopes": ["products:read"], "monthly_request_quota": 1}),
        )
        .await,
    );
    usage.file("create-credential");
    // The first token was revoked above; a new one.
    let bearer = format!(
        "Bearer {}",
        api.form("/oauth/token", Some((&id, &secret)), &grant)
            .await
            .expect(200)
            .json()["access_token"]
            .as_str()
            .expect("token")
    );
    api.flush_usage().await;
    usage.file("issue-token");
    let who = Integration {
        id: id.clone(),
        secret: secret.clone(),
    };
    for (authorization, status) in [
        (bearer, 204),
        (who.basic(&secret), 204),
        // A repeat: the secret is known to the instance, so the credential alone is read.
        (who.basic(&secret), 204),
        (who.basic(&wrong), 403),
        (metered.basic(&metered.secret), 204),
    ] {
        let reply = api.platform_get("/products", &authorization).await;
        assert_eq!(reply.status, status, "{reply:?}");
    }
    api.flush_usage().await;
    usage.file(AUTHORIZER_FUNCTION);
    for path in [
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
    ] {
        api.get_public(path).await.expect(200);
    }
    usage.file("discovery");

    // Rotation (with a key, and its repeat), then the ends of a credential's life: revoke, and
    // delete (stale, then not).
    let keyed = [("idempotency-key", "iam-rotate-0123456789abcdef-0123456789")];
    for _ in 0..2 {
        api.send(
            Method::POST,
            &format!("{credential}/rotate"),
            Some(&admin),
            Some(json!({})),
            &keyed,
        )
        .await
        .expect(200);
    }
    usage.file("rotate-secret");
    usage
        .manage(
            Method::POST,
            &format!("{credential}/revoke"),
            Some(json!({"reason": "iam"})),
            None,
        )
        .await;
    usage.manage(Method::DELETE, &credential, None, stale).await;
    usage.manage(Method::DELETE, &credential, None, None).await;

    // Leaked secrets: an admin's report of a live secret (the policy revokes it), one of a
    // secret never issued, and GitHub's signed report of a live secret and of noise.
    let leaked = Integration::of(&api.create("iam", body("Leaked", 10)).await);
    let found = Integration::of(&api.create("iam", body("Found", 10)).await);
    usage.file("create-credential");
    usage
        .manage(
            Method::POST,
            "/v1/tenants/iam/leaks",
            Some(json!({"secret": leaked.secret})),
            None,
        )
        .await;
    usage
        .manage(
            Method::POST,
            "/v1/tenants/iam/leaks",
            Some(json!({"secret": wrong})),
            None,
        )
        .await;
    let report = GithubScanner::report(&[&found.secret, "noise"]);
    api.github_report(&scanner, report, None).await.expect(200);
    usage.file("github-leak-report");

    // Webhooks: the admin's calls, then events published and delivered as the stream and the
    // queue hand them over (the first attempt fails, so an attempt is recorded with the
    // endpoint's record of failing, and a second without).
    let receiver = Receiver::start().await;
    receiver.configure("/iam", &[], &[500, 204]).await;
    let hook = api
        .post(
            "/v1/tenants/iam/webhooks",
            &admin,
            json!({"url": receiver.url("/iam")}),
        )
        .await
        .expect(201)
        .json();
    usage.file("issue-webhook-secret");
    let hook_path = format!(
        "/v1/tenants/iam/webhooks/{}",
        hook["webhook"]["id"].as_str().expect("webhook id")
    );
    api.post(&format!("{hook_path}/rotate-secret"), &admin, json!({}))
        .await
        .expect(200);
    usage.file("issue-webhook-secret");
    for (method, path, body) in [
        (Method::GET, "/v1/tenants/iam/webhooks".to_owned(), None),
        (Method::GET, hook_path.clone(), None),
        (
            Method::PATCH,
            hook_path.clone(),
            Some(json!({"description": "IAM"})),
        ),
        (Method::POST, format!("{hook_path}/test"), None),
        (Method::GET, format!("{hook_path}/deliveries"), None),
    ] {
        usage.manage(method, &path, body, None).await;
    }
    // A credential's event after the endpoint exists: the publisher reads its name.
    api.create("iam", body("Heard of", 10)).await;
    usage.file("create-credential");
    let events = store
        .list_events(
            &AuditScope::Tenant(clavis_tests::tenant("iam")),
            &PageRequest::first(100),
        )
        .await
        .expect("the tenant's events")
        .items;
    recorder.take();
    let tickets = Arc::new(Tickets::default());
    let publisher = Publisher::new(store.deliveries(), tickets.clone(), clock.clone());
    // Each twice, as a stream retried: the second finds the delivery made.
    for event in events.iter().chain(&events) {
        publisher.publish(event).await.expect("published");
    }
    usage.file(PUBLISHER_FUNCTION);
    let deliverer = Deliverer::new(
        store.deliveries(),
        tickets.clone(),
        Arc::new(HttpSender::new(api.webhook_settings.rules).expect("a sender")),
        api.sealing.clone(),
        api.webhook_settings.schedule.clone(),
        clock.clone(),
    );
    clock.advance(chrono::Duration::seconds(2));
    let mut attempts = 0;
    while let Some(ticket) = tickets.next() {
        deliverer.deliver(&ticket).await.expect("delivered");
        clock.advance(chrono::Duration::seconds(2));
        attempts += 1;
    }
    assert!(attempts >= 2, "{attempts}");
    usage.file(DELIVERER_FUNCTION);
    usage.manage(Method::DELETE, &hook_path, None, None).await;

    // The sweeper, with a notice and an expiry to record.
    api.create("iam", body("Soon", 3)).await;
    usage.file("create-credential");
    let sweeper = Sweeper::new(store.clone(), clock.clone(), chrono::Duration::days(7));
    clock.advance(chrono::Duration::days(4));
    let report = sweeper.sweep(None).await.expect("sweep");
    assert!(
        report.recorded_expired + report.recorded_expiring_soon >= 1,
        "{report:?}"
    );
    usage.file(SWEEPER_FUNCTION);

    let granted = template_grants(&template());
    assert_eq!(
        granted.keys().collect::<Vec<_>>(),
        usage.used.keys().collect::<Vec<_>>()
    );
    for (function, grants) in &granted {
        assert_eq!(
            grants, &usage.used[function],
            "{function}: the template's grants (left) differ from the calls it makes (right)"
        );
    }
}

/// Every parameter a function's policies or environment refer to (`!Ref`/`!Sub`), anywhere.
fn referenced_parameters(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Tagged(tagged) => {
            let text = tagged.value.as_str().unwrap_or_default();
            match tagged.tag.to_string().as_str() {
                "!Ref" => {
                    found.insert(text.to_owned());
                }
                "!Sub" => {
                    for part in text.split("${").skip(1) {
                        if let Some((name, _)) = part.split_once('}') {
                            found.insert(name.to_owned());
                        }
                    }
                }
                _ => referenced_parameters(&tagged.value, found),
            }
        }
        Value::Sequence(items) => items.iter().for_each(|v| referenced_parameters(v, found)),
        Value::Mapping(map) => map.values().for_each(|v| referenced_parameters(v, found)),
        _ => {}
    }
}

/// The functions whose policies or environment name `parameter`.
fn functions_referring_to(template: &Value, parameter: &str) -> BTreeSet<String> {
    template_functions(template)
        .into_iter()
        .filter(|(_, properties)| {
            let mut found = BTreeSet::new();
            referenced_parameters(&properties["Policies"], &mut found);
            referenced_parameters(&properties["Environment"], &mut found);
            found.contains(parameter)
        })
        .map(|(function, _)| function)
        .collect()
}

#[test]
fn only_the_token_issuer_can_read_the_signing_keys_and_only_create_and_rotate_the_pepper() {
    let template = template();
    let names = |list: &[&str]| {
        list.iter()
            .map(|s| (*s).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        functions_referring_to(&template, "SigningKeysSecretArn"),
        names(&["issue-token"]),
        "code execution in any other function must not be able to forge tokens"
    );
    assert_eq!(
        functions_referring_to(&template, "PublicKeysParameterName"),
        names(&[
            "authorize-request",
            "discovery",
            "introspect-token",
            "revoke-token"
        ]),
        "every function that verifies tokens reads the public keys"
    );
    assert_eq!(
        functions_referring_to(&template, "WebhookSealingKey"),
        names(&["deliver-webhooks", "issue-webhook-secret"]),
        "only the functions that seal or open a webhook signing secret read the sealing key"
    );
    assert_eq!(
        functions_referring_to(&template, "WebhookUrlKey"),
        names(&[
            "deliver-webhooks",
            "issue-webhook-secret",
            "manage-webhooks",
            "publish-events"
        ]),
        "the functions that read or write endpoints, and no other, open their URLs"
    );
    assert_eq!(
        functions_referring_to(&template, "EventBusName"),
        names(&["publish-events"]),
    );
    assert_eq!(
        functions_referring_to(&template, "IdempotencyPepperSecretArn"),
        names(&["create-credential", "rotate-secret"]),
    );
    // Full ARNs only: a wildcard would widen the one grant on the private keys.
    let pattern = text(&template["Parameters"]["SigningKeysSecretArn"]["AllowedPattern"]);
    let pattern = regex::Regex::new(pattern).expect("a regular expression");
    let full = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clavis/signing-keys-AbC123";
    assert!(pattern.is_match(full));
    for wide in [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clavis/*",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clavis/signing-keys",
        "arn:aws:secretsmanager:eu-west-1:*:secret:clavis/signing-keys-AbC123",
    ] {
        assert!(!pattern.is_match(wide), "{wide}");
    }
}

/// The resource of the template with this logical ID, which must exist.
fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    let resource = &template["Resources"][id];
    assert!(!resource.is_null(), "no resource {id} in the template");
    resource
}

/// The logical ID a `!Ref X` or `!GetAtt X.Attribute` names.
fn target(value: &Value) -> String {
    let Value::Tagged(tagged) = value else {
        panic!("{value:?} is not a reference");
    };
    let text = text(&tagged.value);
    text.split('.').next().unwrap_or(text).to_owned()
}

/// Whether a Lambda event filter pattern (the subset the template uses: a list of accepted
/// strings, nested objects) takes `record`.
fn filter_takes(pattern: &serde_json::Value, record: &serde_json::Value) -> bool {
    match pattern {
        serde_json::Value::Object(fields) => fields
            .iter()
            .all(|(name, inner)| filter_takes(inner, &record[name])),
        serde_json::Value::Array(accepted) => accepted.iter().any(|a| a == record),
        other => panic!("a filter pattern this test does not read: {other}"),
    }
}

#[test]
fn the_stream_reaches_publish_events_with_new_events_only_and_failures_are_kept_and_alarmed() {
    use serde_json::json;

    let template = template();
    // The table streams new images; the mapping reads it from its oldest record.
    let table = &resource(&template, "Table")["Properties"];
    assert_eq!(table["StreamSpecification"]["StreamViewType"], "NEW_IMAGE");
    let mappings: Vec<&Value> = mapping(&template["Resources"])
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::EventSourceMapping")
        .collect();
    assert_eq!(mappings.len(), 2, "the stream's and the delivery queue's");
    let stream = mappings
        .iter()
        .map(|m| &m["Properties"])
        .find(|p| target(&p["EventSourceArn"]) == "Table")
        .expect("a mapping of the table's stream");
    assert_eq!(target(&stream["FunctionName"]), "PublishEventsFunction");
    assert_eq!(stream["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(stream["BisectBatchOnFunctionError"], true);
    assert_eq!(
        stream["FunctionResponseTypes"][0],
        "ReportBatchItemFailures"
    );
    assert!(
        stream["MaximumRetryAttempts"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    let failures = target(&stream["DestinationConfig"]["OnFailure"]["Destination"]);
    assert_eq!(resource(&template, &failures)["Type"], "AWS::SQS::Queue");

    // The filter takes a new audit item (as the DynamoDB adapter writes it, whose `entity` is
    // what clavis_dynamodb::stream::audit_event_of reads) and nothing else.
    let filters = stream["FilterCriteria"]["Filters"]
        .as_sequence()
        .expect("Filters");
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(text(&filters[0]["Pattern"])).expect("a JSON pattern");
    let record = |event: &str, pk: &str, sk: &str, entity: &str| {
        json!({"eventName": event, "dynamodb": {
            "Keys": {"PK": {"S": pk}, "SK": {"S": sk}},
            "NewImage": {"PK": {"S": pk}, "SK": {"S": sk}, "entity": {"S": entity}}}})
    };
    let audit = "AUDIT#2026-12-06T18:00:00Z#01JZ0000000000000000000000";
    assert!(filter_takes(
        &pattern,
        &record("INSERT", "CRED#cid_x", audit, "audit")
    ));
    assert!(filter_takes(
        &pattern,
        &record("INSERT", "TENANT#acme", audit, "audit")
    ));
    assert!(!filter_takes(
        &pattern,
        &record("MODIFY", "CRED#cid_x", audit, "audit")
    ));
    assert!(!filter_takes(
        &pattern,
        &record("REMOVE", "CRED#cid_x", audit, "audit")
    ));
    assert!(!filter_takes(
        &pattern,
        &record("INSERT", "CRED#cid_x", "CRED", "credential")
    ));
    assert!(!filter_takes(
        &pattern,
        &record("INSERT", "TENANT#acme", "WEBHOOK#wh_x", "webhook")
    ));

    // Deliveries: the queue's visibility outlasts six runs of its consumer, five receives
    // then the dead-letter queue; both queues of what failed have an alarm.
    let queue = mappings
        .iter()
        .map(|m| &m["Properties"])
        .find(|p| target(&p["EventSourceArn"]) == "WebhookDeliveries")
        .expect("a mapping of the delivery queue");
    assert_eq!(target(&queue["FunctionName"]), "DeliverWebhooksFunction");
    assert_eq!(queue["FunctionResponseTypes"][0], "ReportBatchItemFailures");
    let deliveries = &resource(&template, "WebhookDeliveries")["Properties"];
    let timeout = resource(&template, "DeliverWebhooksFunction")["Properties"]["Timeout"]
        .as_u64()
        .expect("deliver-webhooks' timeout");
    assert!(
        deliveries["VisibilityTimeout"]
            .as_u64()
            .expect("visibility")
            >= 6 * timeout
    );
    let redrive = &deliveries["RedrivePolicy"];
    assert_eq!(
        target(&redrive["deadLetterTargetArn"]),
        "WebhookDeliveriesDLQ"
    );
    assert_eq!(redrive["maxReceiveCount"], 5);
    let alarmed: BTreeSet<String> = mapping(&template["Resources"])
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|alarm| {
            let properties = &alarm["Properties"];
            assert_eq!(
                properties["MetricName"],
                "ApproximateNumberOfMessagesVisible"
            );
            assert_eq!(properties["ComparisonOperator"], "GreaterThanThreshold");
            assert_eq!(properties["Threshold"], 0);
            target(&properties["Dimensions"][0]["Value"])
        })
        .collect();
    assert_eq!(
        alarmed,
        BTreeSet::from([failures, "WebhookDeliveriesDLQ".to_owned()])
    );
}
