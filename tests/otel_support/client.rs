//! An OTLP HTTP client shaped as `reqwest::blocking` is: the exporter hands
//! each request to one dedicated thread, which does the I/O and logs
//! through `tracing` as HTTP clients do (`POST …` at DEBUG, the response at
//! DEBUG, a failure at WARN). Those events are what loops through
//! `opentelemetry-appender-tracing` when nothing keeps them out.
//!
//! Plain HTTP/1.1 on std's `TcpStream`, `Connection: close`: enough for a
//! collector on the loopback, and no async runtime in the test's tree.

#![allow(dead_code)] // `attempts` is for the tests, not the example

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use opentelemetry_http::{HttpClient, HttpError};

type Reply = mpsc::Sender<Result<Response<Bytes>, String>>;
/// One request and where its answer goes.
type Job = (Request<Bytes>, Reply);

/// The client; cloneable, one I/O thread behind all clones.
#[derive(Clone, Debug)]
pub struct ThreadClient {
    jobs: Arc<Mutex<Sender<Job>>>,
    /// Requests the I/O thread attempted.
    pub attempts: Arc<AtomicU64>,
}

impl ThreadClient {
    /// Starts the I/O thread; `start` runs first on it (the place for
    /// `layer_safe::otel::exporter_thread`).
    pub fn spawn(start: fn()) -> ThreadClient {
        let (tx, rx) = mpsc::channel::<Job>();
        let attempts = Arc::new(AtomicU64::new(0));
        let counted = attempts.clone();
        std::thread::Builder::new()
            .name("otlp-http-client".into())
            .spawn(move || {
                start();
                for (req, reply) in rx {
                    counted.fetch_add(1, Relaxed);
                    let _ = reply.send(send(&req));
                }
            })
            .expect("spawn the client thread");
        ThreadClient {
            jobs: Arc::new(Mutex::new(tx)),
            attempts,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for ThreadClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (tx, rx) = mpsc::channel();
        self.jobs.lock().unwrap().send((request, tx))?;
        // The SDK's batch thread blocks on this future, as it does on
        // `reqwest::blocking`.
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(Box::new(e)),
        }
    }
}

/// One request, on the I/O thread.
fn send(req: &Request<Bytes>) -> Result<Response<Bytes>, String> {
    let uri = req.uri().to_string();
    tracing::debug!(target: "otlp_client", bytes = req.body().len(), "POST {uri}");
    match exchange(req) {
        Ok(status) => {
            tracing::debug!(target: "otlp_client", "response '{status}' for {uri}");
            let status = http::StatusCode::from_u16(status).map_err(|e| e.to_string())?;
            Response::builder()
                .status(status)
                .body(Bytes::new())
                .map_err(|e| e.to_string())
        }
        Err(e) => {
            tracing::warn!(target: "otlp_client", "export failed: {e} ({uri})");
            Err(e.to_string())
        }
    }
}

fn exchange(req: &Request<Bytes>) -> std::io::Result<u16> {
    let host = req.uri().authority().map(|a| a.as_str()).unwrap_or("");
    let mut conn = TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        req.uri().path(),
        req.body().len()
    );
    for (k, v) in req.headers() {
        if k != http::header::CONTENT_LENGTH {
            head.push_str(&format!("{k}: {}\r\n", v.to_str().unwrap_or("")));
        }
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(req.body())?;
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp)?;
    let line = String::from_utf8_lossy(&resp);
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no HTTP status line"))
}
