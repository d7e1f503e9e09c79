//! Reads a whole table back as text, for tests that prove what is not in it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

/// Every string and number in every item of the table, with the item's `entity`.
pub async fn table_text(client: &Client, table: &str) -> Vec<(String, Vec<String>)> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|e| panic!("scan {table}: {e}"));
        for item in page.items() {
            let entity = match item.get("entity") {
                Some(AttributeValue::S(entity)) => entity.clone(),
                _ => String::new(),
            };
            let mut texts = Vec::new();
            for value in item.values() {
                collect_text(value, &mut texts);
            }
            texts.extend(item.keys().cloned());
            items.push((entity, texts));
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return items,
        }
    }
}

fn collect_text(value: &AttributeValue, out: &mut Vec<String>) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.clone()),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => out.extend(list.iter().cloned()),
        AttributeValue::L(list) => list.iter().for_each(|v| collect_text(v, out)),
        AttributeValue::M(map) => {
            for (key, v) in map {
                out.push(key.clone());
                collect_text(v, out);
            }
        }
        _ => {}
    }
}
