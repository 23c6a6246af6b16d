//! Erasure on the embedded store and on DynamoDB Local, proven by searching every stored byte.

use rft_tests::backends::{dynamo_harness_with_tables, local_harness_with_store, render, scan_all, scan_items};
use rft_tests::erasure::erasure_leaves_nothing_personal;
use rft_tests::harness::settings_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_erasure_leaves_nothing_personal() {
    let (h, store) = local_harness_with_store(settings_with(&[]));
    let dump = || -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> { Box::pin(store.dump()) };
    erasure_leaves_nothing_personal(h, Box::new(dump)).await;
}

/// The live tables and a backup of them taken at the first dump (before erasure), both read
/// with the live keys: a point-in-time restore or an on-demand backup reveals nothing either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_erasure_leaves_nothing_personal_even_in_a_backup_taken_before() {
    let (h, client, names) = dynamo_harness_with_tables(settings_with(&[])).await;
    let backup = std::sync::Mutex::new(None);
    let dump = || -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> {
        Box::pin(async {
            let live = scan_all(&client, &names).await;
            let taken = backup.lock().unwrap().clone();
            let items = match taken {
                Some(items) => items,
                None => {
                    let items = scan_items(&client, &names).await;
                    *backup.lock().unwrap() = Some(items.clone());
                    items
                }
            };
            let copy = render(&client, &names, &items).await;
            format!("{live}{}", copy.lines().map(|l| format!("backup {l}\n")).collect::<String>())
        })
    };
    erasure_leaves_nothing_personal(h, Box::new(dump)).await;
}

mod after_erasure {
    use rft_tests::backends::{dynamo_harness, local_harness};
    use rft_tests::erasure as e;
    use rft_tests::harness::settings_with;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_an_erased_friend_signing_up_again_joins_the_old_referral() {
        e::an_erased_friend_signing_up_again_joins_the_old_referral(local_harness(settings_with(&[]))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamo_an_erased_friend_signing_up_again_joins_the_old_referral() {
        e::an_erased_friend_signing_up_again_joins_the_old_referral(dynamo_harness(settings_with(&[])).await).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn local_erasing_a_referrer_forfeits_their_unpaid_side() {
        e::erasing_a_referrer_forfeits_their_unpaid_side(local_harness(settings_with(&[]))).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamo_erasing_a_referrer_forfeits_their_unpaid_side() {
        e::erasing_a_referrer_forfeits_their_unpaid_side(dynamo_harness(settings_with(&[])).await).await
    }
}

/// Clicks logged before they were filed under the token's digest (under the token itself, the
/// visitor's fields readable) still attribute until they expire, and erasure still removes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_clicks_filed_under_the_token_itself_are_read_and_forgotten() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use rft_core::Clock;
    use rft_core::click::TouchKey;
    use rft_core::{Code, Token};

    let (h, client, names) = dynamo_harness_with_tables(settings_with(&[])).await;
    let token = Token::generate();
    let now = h.clock.now();
    let n = |v: i64| AttributeValue::N(v.to_string());
    let legacy = [
        ("attribution_id", AttributeValue::S(token.as_str().to_owned())),
        ("click_ts", n(now.as_millis() - 1_000)),
        ("expires_at", n(now.as_secs() + 86_400)),
        ("c", AttributeValue::S("K7M2QX".into())),
        ("w", n(86_400_000)),
        ("u", AttributeValue::S("Mozilla/5.0 (legacy)".into())),
    ];
    let item = legacy.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    client.put_item().table_name(&names.clicks).set_item(Some(item)).send().await.unwrap();
    let clicks = &h.system.ports.stores.clicks;
    let key = TouchKey::Token(token.clone());
    let found = clicks.touches(&key, now).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (&found[0].code, found[0].user_agent.as_deref()),
        (&Code::parse("K7M2QX").unwrap(), Some("Mozilla/5.0 (legacy)"))
    );
    assert_eq!(clicks.forget(&key).await.unwrap(), 1);
    assert!(clicks.touches(&key, now).await.unwrap().is_empty());
    assert!(!scan_all(&client, &names).await.contains(token.as_str()), "the legacy row is gone");
}

/// Records written before personal fields were sealed are sealed in place by `seal_existing`
/// (rft-sweep's `seal-existing` task), read the same after, and a second run finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_records_written_before_sealing_are_sealed_in_place() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use rft_aws::DynamoStore;
    use rft_core::Code;
    use serde_json::json;

    let (h, client, names) = dynamo_harness_with_tables(settings_with(&[])).await;
    let minted = h.mint("c_dan", json!({"first_name": "Danforth", "email": "danforth@example.com"})).await;
    let code = Code::parse(minted.json["code"].as_str().unwrap()).unwrap();
    let store = DynamoStore::new(client.clone(), names.clone());
    // As an earlier version wrote it: the whole record in `doc`, nothing sealed.
    for item in scan_items(&client, &names).await.into_iter().filter(|it| it.contains_key("p")) {
        let mut legacy = item.clone();
        legacy.insert("doc".into(), AttributeValue::S(store.readable(&item).await.unwrap()));
        legacy.retain(|name, _| !["p", "ko", "kg"].contains(&name.as_str()));
        let table = if item.contains_key("event_id") { &names.audit } else { &names.codes };
        client.put_item().table_name(table).set_item(Some(legacy)).send().await.unwrap();
    }
    let raw = |items: Vec<rft_aws::item::Item>| format!("{items:?}");
    assert!(raw(scan_items(&client, &names).await).contains("Danforth"), "written as before");

    assert!(store.seal_existing().await.unwrap() >= 1);

    assert!(!raw(scan_items(&client, &names).await).contains("Danforth"), "sealed in place");
    let record = rft_core::ports::CodeStore::get(&store, &code).await.unwrap().unwrap();
    assert_eq!(record.referrer.first_name.as_deref(), Some("Danforth"), "and read the same");
    assert_eq!(store.seal_existing().await.unwrap(), 0, "nothing left to seal");
}
