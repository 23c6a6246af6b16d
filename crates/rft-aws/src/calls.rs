//! Counts the AWS calls the functions make, by service and operation, and records what each
//! call needs IAM to allow: an SDK interceptor that tests and benchmarks attach through
//! [`crate::env::Endpoints`]. Every attempt counts (a retry is a second billed request); each
//! call's access is recorded once.
//!
//! The accesses are what `tests/it/aws_permissions.rs` compares with the permissions matrix
//! of the CDK stack: per function, every IAM action an emulator run of its wiring needed, on
//! which resource, and (for DynamoDB items) which kind of partition key it touched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, Input,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// One thing IAM must allow for a call to succeed: an action on a resource as the call named
/// it (a table, a table's index, a queue URL, a function, a secret id, a sender address, a model
/// id, `phone-number`), and for a DynamoDB item the class of its partition key: the part up to
/// and including the first `#` (`active#`), or empty for a plain id. That class is what an IAM
/// `dynamodb:LeadingKeys` condition can confine.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    /// The IAM action, `dynamodb:PutItem`.
    pub action: String,
    /// The resource as the call named it (physical names: the tests map them to logical ones).
    pub resource: String,
    /// For DynamoDB item actions, the partition key's class.
    pub key_class: Option<String>,
}

type Accesses = BTreeMap<String, BTreeSet<Access>>;

/// Calls so far, keyed `Service.Operation` (`DynamoDB.PutItem`), and the accesses they needed,
/// per function. Clones share both; [`CallCounter::for_function`] names whose calls follow.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    accesses: Arc<Mutex<Accesses>>,
    function: Option<Arc<str>>,
    /// DynamoDB read capacity units consumed, as DynamoDB reports them: the counter asks every
    /// read (GetItem, BatchGetItem, Query) to return its consumed capacity.
    read_units: Arc<Mutex<f64>>,
}

impl CallCounter {
    /// The counts since the last [`CallCounter::take`], and starts again from zero.
    pub fn take(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }

    /// A counter sharing these counts whose calls' accesses are recorded under `function`.
    pub fn for_function(&self, function: &str) -> CallCounter {
        CallCounter { function: Some(function.into()), ..self.clone() }
    }

    /// The DynamoDB read units consumed since the last call, and starts again from zero.
    pub fn take_read_units(&self) -> f64 {
        self.read_units.lock().map(|mut u| std::mem::take(&mut *u)).unwrap_or_default()
    }

    /// Every access recorded so far, per function (calls of a counter with no function are
    /// filed under `""`).
    pub fn accesses(&self) -> BTreeMap<String, BTreeSet<Access>> {
        self.accesses.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let found = accesses_of(context.input()).unwrap_or_else(|| {
            // An operation this file does not know yet: recorded so the permissions test fails
            // and names it, rather than passing without it.
            let op = cfg
                .load::<Metadata>()
                .map_or_else(|| "unknown".to_owned(), |m| format!("{}.{}", m.service(), m.name()));
            vec![Access {
                action: format!("unknown:{op}"),
                resource: "teach crates/rft-aws/src/calls.rs this operation".into(),
                key_class: None,
            }]
        });
        if let Ok(mut all) = self.accesses.lock() {
            all.entry(self.function.as_deref().unwrap_or_default().to_owned()).or_default().extend(found);
        }
        Ok(())
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as ddb;
        use aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total;
        let input = context.input_mut();
        if let Some(i) = input.downcast_mut::<ddb::get_item::GetItemInput>() {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) = input.downcast_mut::<ddb::batch_get_item::BatchGetItemInput>() {
            i.return_consumed_capacity = Some(Total);
        } else if let Some(i) = input.downcast_mut::<ddb::query::QueryInput>() {
            i.return_consumed_capacity = Some(Total);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_dynamodb::operation as ddb;
        let Ok(output) = context.output_or_error() else { return Ok(()) };
        let units =
            |c: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>| c.and_then(|c| c.capacity_units()).unwrap_or(0.0);
        let consumed = if let Some(o) = output.downcast_ref::<ddb::get_item::GetItemOutput>() {
            units(o.consumed_capacity())
        } else if let Some(o) = output.downcast_ref::<ddb::batch_get_item::BatchGetItemOutput>() {
            o.consumed_capacity().iter().map(|c| units(Some(c))).sum()
        } else if let Some(o) = output.downcast_ref::<ddb::query::QueryOutput>() {
            units(o.consumed_capacity())
        } else {
            0.0
        };
        if let Ok(mut total) = self.read_units.lock() {
            *total += consumed;
        }
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let call =
            cfg.load::<Metadata>().map_or_else(|| "unknown".to_owned(), |m| format!("{}.{}", m.service(), m.name()));
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(call).or_default() += 1;
        }
        Ok(())
    }
}

/// The partition key attribute of each of the six tables, by the end of its physical name.
const PARTITION_KEYS: [(&str, &str); 6] = [
    ("rft-codes", "code"),
    ("rft-clicks", "attribution_id"),
    ("rft-referrals", "referred_id"),
    ("rft-rewards", "referral_id"),
    ("rft-audit", "event_id"),
    ("rft-keys", "owner"),
];

/// The class of an item's partition key (see [`Access`]).
fn key_class(table: &str, key: Option<&std::collections::HashMap<String, AttributeValue>>) -> Option<String> {
    let pk = PARTITION_KEYS.iter().find(|(t, _)| table.ends_with(t)).map(|(_, pk)| *pk)?;
    let value = key?.get(pk)?.as_s().ok()?;
    Some(value.find('#').map_or_else(String::new, |i| value[..=i].to_owned()))
}

/// The class of the partition a table query reads: the value its key condition gives the
/// table's partition key (`attribution_id = :t AND ...`, or `#key = :key` with `#key` naming it).
fn query_partition(
    table: &str,
    condition: Option<&str>,
    names: Option<&std::collections::HashMap<String, String>>,
    values: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Option<String> {
    let pk = PARTITION_KEYS.iter().find(|(t, _)| table.ends_with(t)).map(|(_, pk)| *pk)?;
    let first = condition?.split(" AND ").next()?;
    let (name, placeholder) = first.split_once('=')?;
    let name = name.trim();
    let name = if name.starts_with('#') { names?.get(name)?.as_str() } else { name };
    if name != pk {
        return None;
    }
    let key = std::collections::HashMap::from([(pk.to_owned(), values?.get(placeholder.trim())?.clone())]);
    key_class(table, Some(&key))
}

fn access(action: &str, resource: impl Into<String>) -> Access {
    Access { action: action.to_owned(), resource: resource.into(), key_class: None }
}

fn item_access(
    action: &str,
    table: Option<&str>,
    key: Option<&std::collections::HashMap<String, AttributeValue>>,
) -> Access {
    let table = table.unwrap_or_default();
    Access { action: action.to_owned(), resource: table.to_owned(), key_class: key_class(table, key) }
}

/// What IAM checks for one call, from its input; `None` for an operation not listed here.
/// Lambda's Invoke is authorised as `lambda:InvokeFunction`, Bedrock's Converse as
/// `bedrock:InvokeModel`, and a TransactWriteItems as each of its items' own actions.
fn accesses_of(input: &Input) -> Option<Vec<Access>> {
    use aws_sdk_dynamodb::operation as ddb;
    if let Some(i) = input.downcast_ref::<ddb::get_item::GetItemInput>() {
        return Some(vec![item_access("dynamodb:GetItem", i.table_name(), i.key())]);
    }
    if let Some(i) = input.downcast_ref::<ddb::put_item::PutItemInput>() {
        return Some(vec![item_access("dynamodb:PutItem", i.table_name(), i.item())]);
    }
    if let Some(i) = input.downcast_ref::<ddb::update_item::UpdateItemInput>() {
        return Some(vec![item_access("dynamodb:UpdateItem", i.table_name(), i.key())]);
    }
    if let Some(i) = input.downcast_ref::<ddb::delete_item::DeleteItemInput>() {
        return Some(vec![item_access("dynamodb:DeleteItem", i.table_name(), i.key())]);
    }
    if let Some(i) = input.downcast_ref::<ddb::batch_get_item::BatchGetItemInput>() {
        return Some(
            i.request_items()
                .into_iter()
                .flatten()
                .flat_map(|(table, wanted)| {
                    wanted.keys().iter().map(|key| item_access("dynamodb:BatchGetItem", Some(table), Some(key)))
                })
                .collect(),
        );
    }
    if let Some(i) = input.downcast_ref::<ddb::query::QueryInput>() {
        let table = i.table_name().unwrap_or_default();
        return Some(vec![match i.index_name() {
            Some(index) => access("dynamodb:Query", format!("{table}/index/{index}")),
            // A query of the table names one partition: its key's class, as for an item.
            None => {
                let partition = query_partition(
                    table,
                    i.key_condition_expression(),
                    i.expression_attribute_names(),
                    i.expression_attribute_values(),
                );
                Access { action: "dynamodb:Query".into(), resource: table.to_owned(), key_class: partition }
            }
        }]);
    }
    if let Some(i) = input.downcast_ref::<ddb::scan::ScanInput>() {
        let table = i.table_name().unwrap_or_default();
        let resource = i.index_name().map_or_else(|| table.to_owned(), |index| format!("{table}/index/{index}"));
        return Some(vec![access("dynamodb:Scan", resource)]);
    }
    if let Some(i) = input.downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>() {
        return Some(
            i.transact_items()
                .iter()
                .filter_map(|t| {
                    if let Some(p) = t.put() {
                        Some(item_access("dynamodb:PutItem", Some(p.table_name()), Some(p.item())))
                    } else if let Some(u) = t.update() {
                        Some(item_access("dynamodb:UpdateItem", Some(u.table_name()), Some(u.key())))
                    } else if let Some(d) = t.delete() {
                        Some(item_access("dynamodb:DeleteItem", Some(d.table_name()), Some(d.key())))
                    } else {
                        t.condition_check()
                            .map(|c| item_access("dynamodb:ConditionCheckItem", Some(c.table_name()), Some(c.key())))
                    }
                })
                .collect(),
        );
    }
    use aws_sdk_sqs::operation as sqs;
    if let Some(i) = input.downcast_ref::<sqs::send_message::SendMessageInput>() {
        return Some(vec![access("sqs:SendMessage", i.queue_url().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<sqs::receive_message::ReceiveMessageInput>() {
        return Some(vec![access("sqs:ReceiveMessage", i.queue_url().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<sqs::delete_message::DeleteMessageInput>() {
        return Some(vec![access("sqs:DeleteMessage", i.queue_url().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<sqs::get_queue_attributes::GetQueueAttributesInput>() {
        return Some(vec![access("sqs:GetQueueAttributes", i.queue_url().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<aws_sdk_lambda::operation::invoke::InvokeInput>() {
        return Some(vec![access("lambda:InvokeFunction", i.function_name().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueInput>() {
        return Some(vec![access("secretsmanager:GetSecretValue", i.secret_id().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<aws_sdk_sesv2::operation::send_email::SendEmailInput>() {
        return Some(vec![access("ses:SendEmail", i.from_email_address().unwrap_or_default())]);
    }
    if let Some(i) = input.downcast_ref::<aws_sdk_sns::operation::publish::PublishInput>() {
        let to = if i.phone_number().is_some() { "phone-number" } else { i.topic_arn().unwrap_or_default() };
        return Some(vec![access("sns:Publish", to)]);
    }
    if let Some(i) = input.downcast_ref::<aws_sdk_bedrockruntime::operation::converse::ConverseInput>() {
        return Some(vec![access("bedrock:InvokeModel", i.model_id().unwrap_or_default())]);
    }
    None
}
