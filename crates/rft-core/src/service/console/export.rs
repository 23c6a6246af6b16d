//! Referrals as CSV for a spreadsheet: one row per referral, no identity value (no email,
//! phone, hash or IP), and any cell a spreadsheet would run as a formula defused.

use crate::referral::Referral;

/// The header row.
pub const COLUMNS: [&str; 16] = [
    "referral_id",
    "signed_up_at",
    "state",
    "method",
    "code",
    "referrer_id",
    "referred_id",
    "friend_first_name",
    "channel",
    "reasons",
    "order_id",
    "order_amount",
    "currency",
    "converted_at",
    "refunded_at",
    "updated_at",
];

/// A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, return) gets a
/// leading apostrophe, the usual defence against CSV injection.
fn cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

fn row(r: &Referral) -> Vec<String> {
    let method = serde_json::to_value(r.method).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let conversion = r.conversion.as_ref();
    vec![
        r.referral_id.to_string(),
        r.created_at.to_rfc3339(),
        r.state.as_str().to_owned(),
        method,
        r.code.to_string(),
        r.referrer_id.to_string(),
        r.referred_id.to_string(),
        r.friend.first_name.clone().unwrap_or_default(),
        r.channel.clone().unwrap_or_default(),
        r.reasons().join(" "),
        conversion.map(|c| c.order_id.clone()).unwrap_or_default(),
        conversion.map(|c| c.amount_minor.to_string()).unwrap_or_default(),
        conversion.map(|c| c.currency.to_string()).unwrap_or_default(),
        conversion.map(|c| c.occurred_at.to_rfc3339()).unwrap_or_default(),
        r.refunded.as_ref().map(|f| f.at.to_rfc3339()).unwrap_or_default(),
        r.updated_at.to_rfc3339(),
    ]
}

/// Writes rows to a CSV text, header first when `header` is set.
pub fn referrals_csv(referrals: &[Referral], header: bool) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    if header {
        let _ = writer.write_record(COLUMNS);
    }
    for r in referrals {
        let _ = writer.write_record(row(r).iter().map(|v| cell(v)));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::console::testing::referral;

    #[test]
    fn a_row_per_referral_with_no_email_and_no_formula() {
        let mut r = referral("c_mara", Some("=HYPERLINK(\"http://evil\")"), 1_800_000_000);
        r.channel = Some("@sms".into());
        let text = referrals_csv(&[r.clone()], true);
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0], COLUMNS.join(","));
        assert!(
            lines[1]
                .starts_with(&format!("{},2027-01-15T08:00:00.000Z,pending,token,7QK2A9,c_dan,c_mara,", r.referral_id))
        );
        assert!(lines[1].contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{}", lines[1]);
        assert!(lines[1].contains(",'@sms,"), "{}", lines[1]);
        assert!(!text.contains("example.com"), "no email");
    }
}
