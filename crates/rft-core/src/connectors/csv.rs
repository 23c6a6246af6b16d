//! The conversions import: a CSV file a shop with neither code nor a connected store exports
//! from its till or spreadsheet.
//!
//! Header row: `order_id,customer_id,email,amount_minor,currency,occurred_at` then optionally
//! `code` and `attribution_token` (in that order). Per row: `order_id` (required, unique in
//! the file), `customer_id` or `email` (at least one), `amount_minor` (whole minor units),
//! `currency` (ISO 4217), `occurred_at` (RFC 3339; blank means the time of the import), `code`
//! (a referral code the customer used) and `attribution_token` (an `rft` value), both optional.
//!
//! Validation is all or nothing: every row is read and either every row comes back or every
//! error does, each naming its row as a spreadsheet numbers it (the header is row 1) and its
//! column, so a person can fix the whole file in one pass. Blank lines are skipped.
//!
//! The reader is the `csv` crate's (RFC 4180: quoted fields with `""` escapes, commas and line
//! breaks inside quotes, CRLF or LF); a UTF-8 byte order mark, as spreadsheets write, is
//! dropped. Each record keeps the line it starts on, so rows after a field with a line break
//! are still numbered as the file's lines.

use std::collections::HashMap;
use std::fmt;

use crate::code::Code;
use crate::email::Email;
use crate::ids::{CustomerId, OrderId, Token};
use crate::money::{Currency, MAX_AMOUNT_MINOR};
use crate::time::Timestamp;

/// The columns, in order; the last two may be left out of the header.
pub const COLUMNS: [&str; 8] =
    ["order_id", "customer_id", "email", "amount_minor", "currency", "occurred_at", "code", "attribution_token"];

/// Columns every file has.
const REQUIRED_COLUMNS: usize = 6;

/// Most data rows one file may hold.
pub const MAX_ROWS: usize = 100_000;

/// One valid row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionRow {
    /// Its row number in the file (the header is row 1).
    pub row: usize,
    /// The order; the import is idempotent by it.
    pub order_id: OrderId,
    /// The customer, if the shop has ids.
    pub customer_id: Option<CustomerId>,
    /// Their email (the customer's identity when there is no id).
    pub email: Option<Email>,
    /// The order's value in minor units.
    pub amount_minor: u64,
    /// The order's currency.
    pub currency: Currency,
    /// When it was paid; `None` means now.
    pub occurred_at: Option<Timestamp>,
    /// A referral code the customer used.
    pub code: Option<Code>,
    /// The `rft` token the shop captured.
    pub attribution_token: Option<Token>,
}

/// One problem, at a row and (usually) a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// The row number (the header is row 1).
    pub row: usize,
    /// The column, when the problem is one field.
    pub column: Option<&'static str>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// Every problem in a file that was refused whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the file has {} error(s); nothing was imported. First: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
pub struct ImportErrors(pub Vec<RowError>);

/// Reads and validates a whole file.
pub fn parse_conversions(bytes: &[u8]) -> Result<Vec<ConversionRow>, ImportErrors> {
    let fail = |row, message: &str| ImportErrors(vec![RowError { row, column: None, message: message.to_owned() }]);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let row = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(fail(row, "the file is not UTF-8 text (save it as CSV UTF-8)"));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = read_records(text).map_err(|e| ImportErrors(vec![e]))?;
    let mut records = records.into_iter().filter(|(_, fields)| !(fields.len() == 1 && fields[0].trim().is_empty()));
    let Some((header_row, header)) = records.next() else {
        return Err(fail(1, "the file is empty: expected a header row"));
    };
    let width = check_header(header_row, &header).map_err(|e| ImportErrors(vec![e]))?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (count, (row, fields)) in records.enumerate() {
        if count >= MAX_ROWS {
            return Err(fail(row, &format!("the file has more than {MAX_ROWS} rows; split it")));
        }
        let parsed = parse_row(row, &fields, width);
        // Duplicates are judged on the text as written, so a second row repeating an order id
        // is reported even when the first row has errors of its own.
        let order = fields.first().map(|f| f.trim()).filter(|f| !f.is_empty() && fields.len() == width);
        let duplicate_of = order.and_then(|o| match seen.get(o) {
            Some(first) => Some(*first),
            None => {
                seen.insert(o.to_owned(), row);
                None
            }
        });
        if let (Some(first), Some(order)) = (duplicate_of, order) {
            errors.push(RowError {
                row,
                column: Some("order_id"),
                message: format!("{order} is already on row {first}"),
            });
            continue;
        }
        match parsed {
            Ok(r) => rows.push(r),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() { Ok(rows) } else { Err(ImportErrors(errors)) }
}

fn check_header(row: usize, header: &[String]) -> Result<usize, RowError> {
    let names: Vec<String> = header.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    let fits = (REQUIRED_COLUMNS..=COLUMNS.len()).contains(&names.len())
        && names.iter().zip(COLUMNS).all(|(n, expected)| n == expected);
    if fits {
        Ok(names.len())
    } else {
        Err(RowError {
            row,
            column: None,
            message: format!(
                "the header must be {} (the last two are optional); found {}",
                COLUMNS.join(","),
                names.join(",")
            ),
        })
    }
}

fn parse_row(row: usize, fields: &[String], width: usize) -> Result<ConversionRow, Vec<RowError>> {
    if fields.len() != width {
        return Err(vec![RowError {
            row,
            column: None,
            message: format!("has {} fields; the header has {width}", fields.len()),
        }]);
    }
    let mut errors = Vec::new();
    let value = |i: usize| fields.get(i).map(|f| f.trim()).filter(|f| !f.is_empty());
    let mut check = |column: &'static str, r: Result<(), String>| {
        if let Err(message) = r {
            errors.push(RowError { row, column: Some(column), message });
        }
    };
    let mut order_id = None;
    check(
        "order_id",
        match value(0) {
            None => Err("is required".into()),
            Some(v) => OrderId::parse(v).map(|o| order_id = Some(o)).map_err(|e| e.to_string()),
        },
    );
    let mut customer_id = None;
    check(
        "customer_id",
        value(1).map_or(Ok(()), |v| CustomerId::parse(v).map(|c| customer_id = Some(c)).map_err(|e| e.to_string())),
    );
    let mut email = None;
    check("email", value(2).map_or(Ok(()), |v| Email::parse(v).map(|e| email = Some(e)).map_err(|e| e.to_string())));
    if value(1).is_none() && value(2).is_none() {
        check("customer_id", Err("a customer_id or an email is required".into()));
    }
    let mut amount = None;
    check(
        "amount_minor",
        match value(3) {
            None => Err("is required".into()),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= MAX_AMOUNT_MINOR => {
                    amount = Some(n);
                    Ok(())
                }
                _ => Err(format!(
                    "{v:?} is not a whole number of minor units from 0 to {MAX_AMOUNT_MINOR} (pence, not pounds)"
                )),
            },
        },
    );
    let mut currency = None;
    check(
        "currency",
        match value(4) {
            None => Err("is required".into()),
            Some(v) => Currency::parse(v).map(|c| currency = Some(c)).map_err(|e| e.to_string()),
        },
    );
    let mut occurred_at = None;
    check(
        "occurred_at",
        value(5)
            .map_or(Ok(()), |v| Timestamp::parse_rfc3339(v).map(|t| occurred_at = Some(t)).map_err(|e| e.to_string())),
    );
    let mut code = None;
    check("code", value(6).map_or(Ok(()), |v| Code::parse(v).map(|c| code = Some(c)).map_err(|e| e.to_string())));
    let mut attribution_token = None;
    check(
        "attribution_token",
        value(7).map_or(Ok(()), |v| Token::parse(v).map(|t| attribution_token = Some(t)).map_err(|e| e.to_string())),
    );
    match (order_id, amount, currency) {
        (Some(order_id), Some(amount_minor), Some(currency)) if errors.is_empty() => Ok(ConversionRow {
            row,
            order_id,
            customer_id,
            email,
            amount_minor,
            currency,
            occurred_at,
            code,
            attribution_token,
        }),
        _ => Err(errors),
    }
}

/// Splits the text into records, each with the line it starts on.
fn read_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, RowError> {
    // The reader's positions point where it began looking (before the line breaks and blank
    // lines ahead of a record), and its line count skips blank lines; so the record's first
    // byte is found past the breaks, and its line is one more than the newlines before it.
    let bytes = text.as_bytes();
    let newlines: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i).collect();
    let line = |p: Option<&::csv::Position>| {
        let mut at = p.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        while bytes.get(at).is_some_and(|b| *b == b'\r' || *b == b'\n') {
            at += 1;
        }
        newlines.partition_point(|&n| n < at) + 1
    };
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| RowError { row: line(e.position()), column: None, message: e.to_string() })?;
        records.push((line(record.position()), record.iter().map(str::to_owned).collect()));
    }
    Ok(records)
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
