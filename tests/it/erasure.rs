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
    use rft_aws::DynamoStore;
    use rft_core::Code;
    use rft_tests::backends::write_as_before_sealing;
    use serde_json::json;

    let (h, client, names) = dynamo_harness_with_tables(settings_with(&[])).await;
    let minted = h.mint("c_dan", json!({"first_name": "Danforth", "email": "danforth@example.com"})).await;
    let code = Code::parse(minted.json["code"].as_str().unwrap()).unwrap();
    let store = DynamoStore::new(client.clone(), names.clone());
    // As an earlier version wrote it: the whole record in `doc`, nothing sealed.
    for item in scan_items(&client, &names).await.into_iter().filter(|it| it.contains_key("p")) {
        let table = if item.contains_key("event_id") { &names.audit } else { &names.codes };
        write_as_before_sealing(&client, &names, table, &item).await;
    }
    let raw = |items: Vec<rft_aws::item::Item>| format!("{items:?}");
    assert!(raw(scan_items(&client, &names).await).contains("Danforth"), "written as before");

    assert!(store.seal_existing().await.unwrap() >= 1);

    assert!(!raw(scan_items(&client, &names).await).contains("Danforth"), "sealed in place");
    let record = rft_core::ports::CodeStore::get(&store, &code).await.unwrap().unwrap();
    assert_eq!(record.referrer.first_name.as_deref(), Some("Danforth"), "and read the same");
    assert_eq!(store.seal_existing().await.unwrap(), 0, "nothing left to seal");
}

/// The five data tables restored from a backup taken before two erasures (`rft-keys` is never
/// restored): the erased people's personal fields are unreadable at once, and the rewarder's
/// `reapply_erasures` call erases them again from what they left (customer ids, claims, a live
/// code), and nobody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_a_restore_from_before_an_erasure_is_erased_again() {
    use std::sync::Arc;

    use axum::http::{Method, StatusCode};
    use rft_aws::DynamoStore;
    use rft_aws::invoke::{RewarderCall, RewarderOps, RewarderReply, serve_rewarder};
    use rft_aws::tables::{TableNames, create_tables};
    use rft_core::identity::{IdentityHasher, IdentityKey};
    use rft_core::ports::Stores;
    use rft_core::service::erase::Eraser;
    use rft_core::{CodeStatus, CustomerId};
    use rft_tests::backends::unique_prefix;
    use rft_tests::harness::token_of;
    use serde_json::json;

    let (h, client, live) = dynamo_harness_with_tables(settings_with(&[])).await;
    let code = h.mint("c_dan", json!({"first_name": "Danforth", "email": "danforth@example.com"})).await.json["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = token_of(&h.click(&code, None).await);
    h.signup(json!({"customer_id": "c_mara", "email": "marabel@example.com", "first_name": "Marabel", "attribution_token": token})).await;
    h.signup(json!({"customer_id": "c_lee", "email": "lee@example.com", "first_name": "Leeanne"})).await;
    h.clock.advance(std::time::Duration::from_secs(120));
    h.convert("c_mara", "o_1").await;
    // The backup, table by table.
    let tables =
        |n: &TableNames| [n.codes.clone(), n.clicks.clone(), n.referrals.clone(), n.rewards.clone(), n.audit.clone()];
    let mut backup = Vec::new();
    for table in tables(&live) {
        let items =
            client.scan().table_name(&table).consistent_read(true).send().await.unwrap().items.unwrap_or_default();
        backup.push(items);
    }
    for customer in ["c_mara", "c_dan"] {
        let answer = h.call(h.signed(Method::POST, &format!("/api/customers/{customer}/erase"), "")).await;
        assert_eq!(answer.status, StatusCode::OK, "{customer}");
    }

    // Restored into new tables, read with the live keys.
    let restored = TableNames { keys: live.keys.clone(), ..TableNames::with_prefix(&unique_prefix()) };
    create_tables(&client, &TableNames { keys: format!("{}-unused", restored.keys), ..restored.clone() })
        .await
        .unwrap();
    for (table, items) in tables(&restored).iter().zip(backup) {
        for item in items {
            client.put_item().table_name(table).set_item(Some(item)).send().await.unwrap();
        }
    }
    let copy = render(&client, &restored, &scan_items(&client, &restored).await).await;
    for personal in ["Marabel", "marabel@example.com", "Danforth", "danforth@example.com", token.as_str()] {
        assert!(!copy.contains(personal), "{personal} is readable in the restored copy");
    }
    assert!(copy.contains("Leeanne"), "Lee was not erased: the copy reads her");
    assert!(copy.contains("c_mara") && copy.contains("c_dan"), "the copy names them by customer id");

    let store = Arc::new(DynamoStore::new(client.clone(), restored.clone()));
    let stores = Stores::from_backend(store.clone());
    let hasher = IdentityHasher::new(h.secrets.identity.clone());
    let ops = RewarderOps { eraser: Eraser::new(stores.clone(), hasher, h.clock.clone()), store };
    let reply = serve_rewarder(&ops, RewarderCall::ReapplyErasures).await;
    assert!(matches!(reply, RewarderReply::Reapplied { erased: 2 }), "{reply:?}");

    let customer = |id: &str| IdentityKey::Customer(CustomerId::parse(id).unwrap());
    assert!(stores.referrals.find(&customer("c_mara")).await.unwrap().is_none(), "Mara is forgotten again");
    let dans = stores.codes.get(&rft_core::Code::parse(&code).unwrap()).await.unwrap().unwrap();
    assert_eq!(dans.status, CodeStatus::Retired, "Dan's restored code is retired again");
    assert!(dans.referrer_id.as_str().starts_with("erased_"), "{dans:?}");
    let after = render(&client, &restored, &scan_items(&client, &restored).await).await;
    assert!(!after.contains("\"c_mara\"") && !after.contains("S(\"c_mara\")"), "nothing names Mara:\n{after}");
    assert!(after.contains("Leeanne"), "Lee, never erased, is untouched");
}
