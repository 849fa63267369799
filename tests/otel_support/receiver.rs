//! A collector on 127.0.0.1 for the test: accepts OTLP/HTTP protobuf on
//! `/v1/logs` and `/v1/traces`, decodes it with `opentelemetry-proto`, and
//! keeps what it got. Stops when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use prost::Message;

/// One exported log record.
#[derive(Clone, Debug)]
pub struct Log {
    pub body: String,
    pub trace_id: String,
    pub span_id: String,
}

/// What the receiver got.
#[derive(Debug, Default)]
pub struct Got {
    pub logs: Vec<Log>,
    /// (trace id, span id, name) of each exported span.
    pub spans: Vec<(String, String, String)>,
}

pub struct Receiver {
    pub port: u16,
    pub got: Arc<Mutex<Got>>,
    /// Notified after each request is recorded.
    arrived: Arc<Condvar>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the loopback");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Got::default()));
        let arrived = Arc::new(Condvar::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (g, a, s) = (got.clone(), arrived.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = serve(conn, &g);
                        a.notify_all();
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            port,
            got,
            arrived,
            stop,
            thread: Some(thread),
        }
    }

    /// Log records received so far whose body contains `needle`.
    pub fn logs_with(&self, needle: &str) -> usize {
        self.got.lock().unwrap().logs_with(needle)
    }

    /// Waits until what was received satisfies `done`. No bound: a test
    /// whose records never arrive hangs until the runner's timeout, rather
    /// than fail on a loaded machine's clock.
    pub fn wait_until(&self, done: impl Fn(&Got) -> bool) {
        let mut got = self.got.lock().unwrap();
        while !done(&got) {
            got = self.arrived.wait(got).unwrap();
        }
    }
}

impl Got {
    /// Log records whose body contains `needle`.
    pub fn logs_with(&self, needle: &str) -> usize {
        self.logs.iter().filter(|l| l.body.contains(needle)).count()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, got: &Mutex<Got>) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or("").to_owned();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    let ok = record(&path, &body, got);
    let status = if ok { "200 OK" } else { "400 Bad Request" };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn record(path: &str, body: &[u8], got: &Mutex<Got>) -> bool {
    let mut got = got.lock().unwrap();
    match path {
        "/v1/logs" => {
            let Ok(req) = ExportLogsServiceRequest::decode(body) else {
                return false;
            };
            for rl in req.resource_logs {
                for sl in rl.scope_logs {
                    for lr in sl.log_records {
                        let body = match lr.body.and_then(|b| b.value) {
                            Some(Any::StringValue(s)) => s,
                            other => format!("{other:?}"),
                        };
                        got.logs.push(Log {
                            body,
                            trace_id: hex(&lr.trace_id),
                            span_id: hex(&lr.span_id),
                        });
                    }
                }
            }
            true
        }
        "/v1/traces" => {
            let Ok(req) = ExportTraceServiceRequest::decode(body) else {
                return false;
            };
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        got.spans.push((hex(&s.trace_id), hex(&s.span_id), s.name));
                    }
                }
            }
            true
        }
        _ => false,
    }
}
