//! The one capturing writer of the integration tests (included by
//! `common`, `json_support` and `sink_common`).

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use layer_safe::testing::Output;

/// The crate's in-memory writer, `testing::Output`, with the sinks made by
/// [`Capture::sink`], flushed before each read, and the reading of the
/// sink's drop reports.
#[derive(Clone, Default)]
pub struct Capture(Output, Arc<Mutex<Vec<layer_safe::FlushGuard>>>);

impl Capture {
    /// A sink writing into this capture; reading the capture flushes it.
    pub fn sink(&self) -> layer_safe::Sink {
        let (sink, guard) = layer_safe::Sink::builder()
            .writer(self.clone())
            .build()
            .expect("sink");
        self.1.lock().unwrap().push(guard);
        sink
    }

    fn flush(&self) {
        for g in self.1.lock().unwrap().iter() {
            assert!(g.flush(std::time::Duration::from_secs(10)), "flush");
        }
    }

    pub fn text(&self) -> String {
        self.flush();
        String::from_utf8(self.0.bytes()).expect("output is UTF-8")
    }

    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    pub fn clear(&self) {
        self.flush();
        self.0.clear();
    }

    /// Lines that are not the sink's drop reports.
    pub fn events(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| !l.contains("\"events dropped\""))
            .collect()
    }

    /// The drop reports, summed by reason.
    pub fn reported(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut sum = serde_json::Map::new();
        for line in self.lines() {
            if !line.contains("\"events dropped\"") {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).expect("report is JSON");
            assert_eq!(v["level"], "WARN");
            assert_eq!(v["target"], "layer_safe");
            for (k, n) in v["fields"].as_object().unwrap() {
                if k == "message" {
                    continue;
                }
                let n = n.as_u64().unwrap();
                assert!(n > 0, "reports name nonzero reasons only: {line}");
                let prev = sum.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                sum.insert(k.clone(), (prev + n).into());
            }
        }
        sum
    }

    pub fn reported_total(&self) -> u64 {
        self.reported().values().map(|v| v.as_u64().unwrap()).sum()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}
