//! Local development and test support for Clavis: DynamoDB Local, and (with the management API)
//! the local gateway that serves every route the way API Gateway would.

pub mod dynamodb_local;
