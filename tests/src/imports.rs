//! The CSV import (`POST /api/imports/conversions`) through the router and the workers, written
//! once and run on every store: rows attributed by their own code, token or email and paid once,
//! a repeated file queuing nothing, a malformed file importing nothing.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use rft_core::connectors::intake::guest_id;
use rft_core::email::Email;

use crate::harness::{Answer, Harness, token_of};

const HEADER: &str = "order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token";

async fn upload(h: &Harness, rows: &[String]) -> Answer {
    let file = format!("{HEADER}\n{}\n", rows.join("\n"));
    h.call(h.signed(Method::POST, "/api/imports/conversions", &file)).await
}

async fn dan_code(h: &Harness) -> String {
    let minted = h.mint("c_dan", json!({"first_name": "Dan", "email": "dan@example.com"})).await;
    minted.json["code"].as_str().expect("a code").to_owned()
}

/// Mara's order typed Dan's code at the till; Kim, a guest, clicked Dan's link. One file pays
/// both referrals' two sides once; the same file again is all duplicates and pays nothing.
pub async fn an_imported_file_pays_each_order_once(h: Harness) {
    let dan = dan_code(&h).await;
    let token = token_of(&h.click(&dan, None).await);
    h.clock.advance(Duration::from_secs(60));
    let rows =
        [format!("o_1,c_mara,mara@example.com,3999,GBP,,{dan},"), format!("o_2,,kim@example.com,2500,GBP,,,{token}")];
    let answer = upload(&h, &rows).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.json);
    assert_eq!((answer.json["queued"].clone(), answer.json["duplicate"].clone()), (json!(2), json!(0)));
    assert_eq!(answer.json["rows"][1], json!({"row": 3, "order_id": "o_2", "status": "queued"}));
    h.settle().await;

    let mara = h.referral("c_mara").await;
    assert_eq!(
        (mara.json["method"].clone(), mara.json["state"].clone()),
        (json!("code"), json!("rewarded")),
        "{mara:?}"
    );
    let kim_id = guest_id(&h.system.edge.hasher, &Email::parse("kim@example.com").unwrap()).unwrap();
    let kim = h.referral(kim_id.as_str()).await;
    assert_eq!((kim.json["method"].clone(), kim.json["state"].clone()), (json!("token"), json!("rewarded")), "{kim:?}");
    assert_eq!(h.store.applied().len(), 4, "two referrals, two sides each");

    let again = upload(&h, &rows).await;
    assert_eq!(
        (again.json["queued"].clone(), again.json["duplicate"].clone()),
        (json!(0), json!(2)),
        "{:?}",
        again.json
    );
    h.settle().await;
    assert_eq!(h.store.applied().len(), 4);
}

/// One malformed row refuses the whole file, naming the row and column; nothing is queued.
pub async fn a_file_with_a_bad_row_imports_nothing(h: Harness) {
    let dan = dan_code(&h).await;
    let rows =
        [format!("o_1,c_mara,mara@example.com,3999,GBP,,{dan},"), "o_2,c_kim,kim@example.com,£25,GBP,,,".to_owned()];
    let answer = upload(&h, &rows).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", answer.json);
    assert_eq!(answer.json["error"], "invalid_file");
    assert_eq!(
        (answer.json["errors"][0]["row"].clone(), answer.json["errors"][0]["column"].clone()),
        (json!(3), json!("amount_minor"))
    );
    assert_eq!(h.settle().await, 0, "nothing was queued");
    assert_eq!(h.referral("c_mara").await.status, StatusCode::NOT_FOUND);
}

/// An order the customer placed before (another row of the file is their first) is not a new
/// customer's, so only the first pays.
pub async fn a_customers_second_order_in_a_file_pays_nothing_more(h: Harness) {
    let dan = dan_code(&h).await;
    let rows = [
        format!("o_1,c_mara,mara@example.com,3999,GBP,,{dan},"),
        format!("o_2,c_mara,mara@example.com,4999,GBP,,{dan},"),
    ];
    assert_eq!(upload(&h, &rows).await.status, StatusCode::OK);
    h.settle().await;
    let mara = h.referral("c_mara").await;
    assert_eq!(mara.json["state"], "rewarded", "{mara:?}");
    assert_eq!(h.store.applied().len(), 2);
}
