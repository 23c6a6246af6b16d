//! Money summed per currency, with a count: what the console shows for revenue and rewards.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::money::Currency;

/// A total in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Amount {
    /// The currency.
    pub currency: Currency,
    /// The total, in minor units.
    pub amount_minor: u64,
    /// For people: `£30.00`.
    pub formatted: String,
    /// How many items make it up.
    pub count: u64,
}

/// Totals per currency, built up one item at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sums(BTreeMap<Currency, (u64, u64)>);

impl Sums {
    /// Adds one item.
    pub fn add(&mut self, currency: &Currency, amount_minor: u64) {
        let entry = self.0.entry(currency.clone()).or_insert((0, 0));
        entry.0 = entry.0.saturating_add(amount_minor);
        entry.1 += 1;
    }

    /// How many items in all currencies.
    pub fn count(&self) -> u64 {
        self.0.values().map(|(_, n)| n).sum()
    }

    /// The totals, one per currency, in currency order.
    pub fn amounts(&self) -> Vec<Amount> {
        self.0
            .iter()
            .map(|(currency, (amount_minor, count))| Amount {
                formatted: currency.format(*amount_minor),
                currency: currency.clone(),
                amount_minor: *amount_minor,
                count: *count,
            })
            .collect()
    }
}
