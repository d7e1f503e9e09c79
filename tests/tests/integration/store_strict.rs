//! Items the DynamoDB adapter cannot read are reported as corrupt, never read as something
//! else: a damaged usage counter is not "no uses", half a grace period is not "no grace".

use aws_sdk_dynamodb::types::AttributeValue;
use clavis_core::store::{StoreError, UsageMonth};
use clavis_tests::{dynamodb_fixture, new_credential};

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test]
async fn a_usage_counter_that_is_not_a_number_is_corrupt_not_zero() {
    let fx = dynamodb_fixture().await;
    let created = new_credential("acme", None, fx.now());
    fx.store.insert(&created).await.unwrap();
    let id = created.credential.client_id.clone();
    let month = UsageMonth::of(fx.now());
    let (client, table) = fx.table.as_ref().unwrap();
    client
        .put_item()
        .table_name(table)
        .item("PK", text(&format!("CRED#{id}")))
        .item("SK", text(&format!("USAGE#{month}")))
        .item("entity", text("usage"))
        .item("request_count", text("many"))
        .send()
        .await
        .unwrap();
    let read = fx.store.request_counts(&[id], month).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
}

#[tokio::test]
async fn a_previous_secret_without_its_end_is_corrupt() {
    let fx = dynamodb_fixture().await;
    let created = new_credential("acme", None, fx.now());
    fx.store.insert(&created).await.unwrap();
    let id = created.credential.client_id.clone();
    let (client, table) = fx.table.as_ref().unwrap();
    client
        .update_item()
        .table_name(table)
        .key("PK", text(&format!("CRED#{id}")))
        .key("SK", text("CRED"))
        .update_expression("SET previous_secret_hash = :hash")
        .expression_attribute_values(
            ":hash",
            text("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$previous"),
        )
        .send()
        .await
        .unwrap();
    let read = fx.store.get(&id).await;
    assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
}
