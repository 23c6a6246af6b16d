//! AWS adapters for the referral tracker's ports. Thin: each method is one or two SDK calls,
//! with condition failures mapped to the domain's typed errors.

pub mod config;
pub mod dynamo;
pub mod item;
pub mod sqs;
pub mod tables;

pub use dynamo::DynamoStore;
pub use sqs::SqsQueue;
pub use tables::TableNames;
