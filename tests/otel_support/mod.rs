//! For the OTLP end-to-end test and the `otel` example: a receiver of
//! OTLP/HTTP protobuf on 127.0.0.1, and an exporter HTTP client on a thread
//! of its own.
#![allow(dead_code)]

pub mod client;
pub mod receiver;
