//! `GET /api/exports/ledger.csv`: the whole ledger as CSV (RFC 4180, via the `csv` crate), one
//! line per ledger row. Streamed a page of the ledger store at a time, so however long the
//! ledger is, the function holds one page: the first page is read before the answer starts
//! (a store that is down gets the usual 503), each later one as the client reads on. A store
//! failure after that cuts the body off mid-way (the chunked transfer never completes), which
//! a client sees as a failed download rather than a short file.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use rft_core::ledger::{Fulfilment, LedgerRow};
use rft_core::ports::{LedgerCursor, LedgerPage, LedgerStore, StoreError};

use crate::Edge;
use crate::error::ApiError;

/// Rows read from the ledger store per page.
pub const PAGE: usize = 200;

/// The columns, in order.
pub const COLUMNS: [&str; 16] = [
    "referral_id",
    "side",
    "customer_id",
    "amount_minor",
    "amount",
    "currency",
    "description",
    "tier_position",
    "fulfilment",
    "attempts",
    "reference",
    "code",
    "detail",
    "created_at",
    "fulfilled_at",
    "note_sent_at",
];

/// The next piece of the body.
enum Step {
    /// A page read, to render (the header first when `header`).
    Rows(LedgerPage, bool),
    /// The page after this cursor, still to read.
    Fetch(LedgerCursor),
}

/// `GET /api/exports/ledger.csv`.
pub async fn ledger_csv(State(edge): State<Arc<Edge>>) -> Result<Response, ApiError> {
    let ledger = edge.stores.ledger.clone();
    let first = ledger.page(None, PAGE).await.map_err(|e| ApiError::internal("reading the ledger", &e))?;
    let body = futures_util::stream::unfold(Some(Step::Rows(first, true)), move |step| {
        let ledger = ledger.clone();
        async move { next_piece(ledger.as_ref(), step?).await }
    });
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"ledger.csv\""));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

type Piece = (Result<Vec<u8>, StoreError>, Option<Step>);

async fn next_piece(ledger: &dyn LedgerStore, step: Step) -> Option<Piece> {
    let (page, header) = match step {
        Step::Rows(page, header) => (page, header),
        Step::Fetch(cursor) => match ledger.page(Some(&cursor), PAGE).await {
            Ok(page) => (page, false),
            Err(e) => {
                tracing::error!(error = %rft_core::ports::error_chain(&e), "the ledger export stopped mid-way");
                return Some((Err(e), None));
            }
        },
    };
    let bytes = render(&page.rows, header);
    Some((Ok(bytes), page.next.map(Step::Fetch)))
}

/// CSV lines for `rows`, after the header line when `header`.
pub fn render(rows: &[LedgerRow], header: bool) -> Vec<u8> {
    let mut out = csv::Writer::from_writer(Vec::new());
    // Writing to memory cannot fail; a row that somehow did is left out rather than cutting
    // the export short.
    if header {
        let _ = out.write_record(COLUMNS);
    }
    for row in rows {
        if let Err(e) = out.write_record(record(row)) {
            tracing::error!(error = %e, referral = %row.referral_id, "a ledger row could not be written as CSV");
        }
    }
    out.into_inner().unwrap_or_default()
}

/// One ledger row's fields, in [`COLUMNS`] order.
pub fn record(row: &LedgerRow) -> [String; 16] {
    let time = |t: Option<rft_core::Timestamp>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let (attempts, detail, fulfilled_at) = match &row.fulfilment {
        Fulfilment::Owing { attempts, last_error, .. } => (*attempts, last_error.clone().unwrap_or_default(), None),
        Fulfilment::Fulfilled { at, attempts, .. } => (*attempts, String::new(), Some(*at)),
        Fulfilment::Parked { attempts, reason } => (*attempts, reason.clone(), None),
        Fulfilment::Forfeited { reason, .. } => (0, reason.clone(), None),
    };
    let reward = &row.reward;
    [
        row.referral_id.to_string(),
        row.side.as_str().to_owned(),
        text(row.customer_id.as_str()),
        reward.amount_minor.to_string(),
        reward.currency.format(reward.amount_minor),
        reward.currency.as_str().to_owned(),
        text(&reward.description),
        row.nth.map(|n| n.to_string()).unwrap_or_default(),
        row.fulfilment.state().to_owned(),
        attempts.to_string(),
        text(row.fulfilment.reference().unwrap_or_default()),
        text(row.fulfilment.code().unwrap_or_default()),
        text(&detail),
        row.created_at.to_rfc3339(),
        time(fulfilled_at),
        time(row.note_sent_at),
    ]
}

/// A text cell a spreadsheet will not run: one that starts like a formula (`=`, `+`, `-`, `@`,
/// a tab or a carriage return) gets a leading apostrophe, as OWASP advises for CSV exports.
/// Customer ids come from the store and descriptions from settings; neither should run.
fn text(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rft_core::ledger::Side;
    use rft_core::money::{Currency, Reward, RewardKind};
    use rft_core::{CustomerId, ReferralId, Timestamp};

    fn row(customer: &str, fulfilment: Fulfilment) -> LedgerRow {
        let reward = Reward {
            kind: RewardKind::Credit,
            amount_minor: 1050,
            currency: Currency::parse("GBP").unwrap(),
            description: "£10.50 off, \"fresh\"".into(),
        };
        let mut r = LedgerRow::owed(
            ReferralId::parse("rf_01j8zq4x7m3k9p2r5t6v8w0yab").unwrap(),
            Side::Referrer,
            CustomerId::parse(customer).unwrap(),
            reward,
            Some(3),
            Timestamp::from_millis(1_783_159_200_000),
        );
        r.fulfilment = fulfilment;
        r
    }

    #[test]
    fn a_row_is_quoted_formatted_and_never_a_formula() {
        let fulfilled = Fulfilment::Fulfilled {
            at: Timestamp::from_millis(1_783_159_260_000),
            attempts: 2,
            reference: Some("cbtxn_1".into()),
            code: None,
        };
        let text = String::from_utf8(render(&[row("=cmd()", fulfilled)], true)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], COLUMNS.join(","));
        assert_eq!(
            lines[1],
            "rf_01j8zq4x7m3k9p2r5t6v8w0yab,referrer,'=cmd(),1050,£10.50,GBP,\"£10.50 off, \"\"fresh\"\"\",3,\
             fulfilled,2,cbtxn_1,,,2026-07-04T10:00:00.000Z,2026-07-04T10:01:00.000Z,"
        );
        let parked = Fulfilment::Parked { attempts: 9, reason: "HTTP 503\nagain".into() };
        let bytes = render(&[row("c_dan", parked)], true);
        let mut reader = csv::Reader::from_reader(bytes.as_slice());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!((&record[8], &record[9], &record[12]), ("parked", "9", "HTTP 503\nagain"));
    }
}
