//! The names the adapters use, held to `infra/tables.json` (the stack's tests hold the stack to
//! the same file).

use std::collections::BTreeSet;

use super::*;

/// Every index an adapter queries, with its table.
const QUERIED: [(&str, &str); 10] = [
    ("rft-codes", CODES_BY_REFERRER),
    ("rft-codes", CODES_BY_FLAG),
    ("rft-codes", CODES_BY_STATUS),
    ("rft-referrals", REFERRALS_BY_STATE),
    ("rft-clicks", CLICKS_BY_BROWSER),
    ("rft-referrals", REFERRALS_BY_QUEUE),
    ("rft-referrals", REFERRALS_BY_REFERRER),
    ("rft-referrals", REFERRALS_BY_CLAIMANT),
    ("rft-rewards", REWARDS_BY_CUSTOMER),
    ("rft-audit", AUDIT_BY_SUBJECT),
];

#[test]
fn the_schema_has_exactly_the_tables_the_functions_name_and_read_from_the_same_variables() {
    let schema = Schema::load();
    let in_schema: Vec<(&str, &str)> = schema.tables.iter().map(|(t, s)| (t.as_str(), s.env.as_str())).collect();
    let mut named = TABLE_VARIABLES.to_vec();
    named.sort();
    assert_eq!(in_schema, named);
    let names = TableNames::with_prefix("x-");
    assert!(schema.tables.keys().all(|t| names.physical(t) == Some(format!("x-{t}").as_str())));
}

#[test]
fn physical_names_come_from_each_tables_variable() {
    let names = TableNames::from_lookup(|var| (var == "RFT_TABLE_AUDIT").then(|| "staging-audit".to_owned()));
    assert_eq!((names.audit.as_str(), names.codes.as_str()), ("staging-audit", "rft-codes"));
}

#[test]
fn every_index_the_adapters_query_is_in_the_schema_on_its_table_and_no_other() {
    let schema = Schema::load();
    let in_schema: BTreeSet<(&str, &str)> =
        schema.tables.iter().flat_map(|(t, s)| s.gsis.iter().map(move |g| (t.as_str(), g.name.as_str()))).collect();
    assert_eq!(in_schema, QUERIED.into_iter().collect(), "an index nobody queries, or a query of a missing index");
}

#[test]
fn an_index_projects_all_its_keys_or_what_it_includes() {
    for (table, spec) in Schema::load().tables {
        let defined: BTreeSet<String> =
            attribute_definitions(&spec).iter().map(|a| a.attribute_name().to_owned()).collect();
        assert!(defined.contains(&spec.pk.name), "{table}");
        for g in &spec.gsis {
            assert!(!(g.keys_only && g.include.is_some()), "{table}.{}: keys only or include, not both", g.name);
            assert!(defined.contains(&g.pk.name) && g.sk.iter().all(|sk| defined.contains(&sk.name)));
        }
    }
}
