//! Local development and test support for Clavis: DynamoDB Local, a stand-in identity provider,
//! and the local gateway that serves every route the way API Gateway would.

pub mod apigw;
pub mod dynamodb_local;
pub mod events;
pub mod gateway;
pub mod idp;
pub mod runtime_api;
pub mod upstream;
