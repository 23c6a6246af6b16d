//! AWS adapters for the referral tracker's ports. Thin: each method is one or two SDK calls,
//! with condition failures mapped to the domain's typed errors.

pub mod bedrock;
pub mod calls;
pub mod config;
pub mod dynamo;
pub mod env;
pub mod follower;
pub mod invoke;
pub mod item;
pub mod lambda;
pub mod logging;
pub mod messaging;
pub mod secrets;
pub mod sqs;
pub mod tables;
pub mod wiring;

pub use dynamo::DynamoStore;
pub use logging::init_tracing;
pub use sqs::SqsQueue;
pub use tables::TableNames;
