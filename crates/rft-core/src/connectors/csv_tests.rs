use super::*;

const HEADER: &str = "order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token\n";

fn errors(text: &str) -> Vec<String> {
    parse_conversions(text.as_bytes()).unwrap_err().0.iter().map(ToString::to_string).collect()
}

#[test]
fn a_valid_file_comes_back_row_by_row() {
    let text = format!(
        "{HEADER}1001,c_1,dan@example.com,4500,gbp,2026-01-01T10:00:00Z,7qk2a9,\n\
         1002,,Mara@Example.com,2500,GBP,,,7K3M9Q2X4V6B8N1C5D0F2G4H6J\r\n\
         \n\
         \"1003, the big one\",c_3,,100000,EUR,2026-01-02T09:00:00+01:00,,\n"
    );
    let rows = parse_conversions(text.as_bytes()).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!((rows[0].row, rows[0].order_id.as_str(), rows[0].amount_minor), (2, "1001", 4500));
    assert_eq!(rows[0].code.as_ref().unwrap().as_str(), "7QK2A9");
    assert_eq!(rows[0].currency.as_str(), "GBP");
    assert_eq!(rows[1].customer_id, None);
    assert_eq!(rows[1].email.as_ref().unwrap().as_str(), "Mara@example.com");
    assert_eq!(rows[1].occurred_at, None, "blank means the time of the import");
    assert_eq!(rows[1].attribution_token.as_ref().unwrap().as_str(), "7k3m9q2x4v6b8n1c5d0f2g4h6j");
    assert_eq!((rows[2].row, rows[2].order_id.as_str()), (5, "1003, the big one"), "blank line 4 skipped");
    assert_eq!(rows[2].occurred_at, Some(Timestamp::parse_rfc3339("2026-01-02T08:00:00Z").unwrap()));
}

#[test]
fn the_optional_columns_may_be_left_out_and_a_bom_is_fine() {
    let rows = parse_conversions(
        "\u{feff}Order_ID,customer_id,email,amount_minor,currency,occurred_at\n1,c_1,,10,GBP,\n".as_bytes(),
    )
    .unwrap();
    assert_eq!((rows[0].code.clone(), rows[0].attribution_token.clone()), (None, None));
    let rows =
        parse_conversions(b"order_id,customer_id,email,amount_minor,currency,occurred_at,code\n1,c_1,,10,GBP,,ABC234")
            .unwrap();
    assert_eq!(rows[0].code.as_ref().unwrap().as_str(), "ABC234", "no newline at the end");
}

#[test]
fn every_error_names_its_row_and_column_and_nothing_comes_back() {
    let text = format!(
        "{HEADER}1001,c_1,,45.00,GBP,,,\n\
         1002,,,2500,pounds,yesterday,0O0O0O,short\n\
         ,c_3,not-an-email,,GBP,,,\n\
         1004,c_4,,100,GBP,,,\n\
         1001,c_5,,100,GBP,,,\n\
         1006,c_6,,100,GBP\n"
    );
    assert_eq!(
        errors(&text),
        [
            "row 2, column amount_minor: \"45.00\" is not a whole number of minor units from 0 to 1000000000 (pence, not pounds)",
            "row 3, column customer_id: a customer_id or an email is required",
            "row 3, column currency: currency must be a three-letter ISO 4217 code such as GBP",
            "row 3, column occurred_at: expected an RFC 3339 timestamp such as 2026-07-04T10:00:00Z",
            "row 3, column code: a code uses only the characters 23456789ABCDEFGHJKMNPQRSTUVWXYZ",
            "row 3, column attribution_token: must be 26 letters and digits, as set by the rft cookie",
            "row 4, column order_id: is required",
            "row 4, column email: expected an email address like name@example.com",
            "row 4, column amount_minor: is required",
            "row 6, column order_id: 1001 is already on row 2",
            "row 7: has 5 fields; the header has 8",
        ]
    );
    let e = parse_conversions(text.as_bytes()).unwrap_err();
    assert!(
        e.to_string().starts_with("the file has 11 error(s); nothing was imported. First: row 2, column amount_minor")
    );
}

#[test]
fn bad_headers_and_broken_quoting_are_refused() {
    assert_eq!(errors(""), ["row 1: the file is empty: expected a header row"]);
    assert!(errors("order,customer\n1,2\n")[0].starts_with("row 1: the header must be order_id,customer_id,"));
    assert!(
        errors("customer_id,order_id,email,amount_minor,currency,occurred_at\n")[0].starts_with("row 1: the header")
    );
    // A quote that is never closed swallows the rest of the file into one field.
    assert_eq!(
        errors(&format!("{HEADER}\"1001,c_1,,1,GBP,,,\n2,c,,1,GBP,,,\n")),
        ["row 2: has 1 fields; the header has 8"]
    );
    assert_eq!(
        errors("order_id\u{0},x\n\u{ff}"),
        [
            "row 1: the header must be order_id,customer_id,email,amount_minor,currency,occurred_at,code,attribution_token (the last two are optional); found order_id\u{0},x"
        ]
    );
    let mut latin1 = HEADER.as_bytes().to_vec();
    latin1.extend_from_slice(b"1,c_1,\xe9@x.com,1,GBP,,,\n");
    assert_eq!(
        parse_conversions(&latin1).unwrap_err().0[0].to_string(),
        "row 2: the file is not UTF-8 text (save it as CSV UTF-8)"
    );
}

#[test]
fn quoted_fields_may_hold_quotes_commas_and_line_breaks() {
    let text = format!("{HEADER}\"say \"\"hi\"\"\",\"c,1\",,1,GBP,,,\n");
    let rows = parse_conversions(text.as_bytes()).unwrap();
    assert_eq!(rows[0].order_id.as_str(), "say \"hi\"");
    assert_eq!(rows[0].customer_id.as_ref().unwrap().as_str(), "c,1");
    // A line break inside quotes is read as one field (which no column accepts), and the rows
    // after it keep the file's line numbers.
    let text = format!("{HEADER}\"a\nb\",c_2,,1,GBP,,,\n2003,c_3,,x,GBP,,,\n");
    assert_eq!(
        errors(&text),
        [
            "row 2, column order_id: must be 1 to 128 printable characters",
            "row 4, column amount_minor: \"x\" is not a whole number of minor units from 0 to 1000000000 (pence, not pounds)",
        ]
    );
}

#[test]
fn ten_thousand_rows_parse_fast() {
    let mut text = String::from(HEADER);
    for i in 0..10_000 {
        text.push_str(&format!("order-{i},c_{i},buyer{i}@example.com,{},GBP,2026-01-01T10:00:00Z,7QK2A9,\n", 1000 + i));
    }
    let started = std::time::Instant::now();
    let rows = parse_conversions(text.as_bytes()).unwrap();
    let took = started.elapsed();
    assert_eq!(rows.len(), 10_000);
    // Well under a second even unoptimised on two busy cores (about 30 ms measured).
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    let mut bad = text.clone();
    bad.push_str("order-5,c_x,,1,GBP,,,\n");
    assert_eq!(errors(&bad), ["row 10002, column order_id: order-5 is already on row 7"]);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_conversions(&body);
        }

        #[test]
        fn arbitrary_rows_under_a_valid_header_never_panic(rows in "[a-z0-9,\"\r\n@. :+-]{0,300}") {
            let _ = parse_conversions(format!("{HEADER}{rows}").as_bytes());
        }
    }
}
