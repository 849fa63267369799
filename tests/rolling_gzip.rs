//! `Builder::compress`: the drop-in's rolling files, gzipped end to end.
#![cfg(feature = "compress")]

use std::io::Read;
use std::path::Path;
use std::time::Duration;

fn gunzip_lines(path: &Path) -> usize {
    let mut s = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s.lines().count()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn every_event_is_in_the_current_file_or_a_gz() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let (dispatch, guard) = layer_safe::builder()
        .rolling_by_size(&path, 2_000, 1_000)
        .compress(true)
        .build()
        .unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..500u32 {
            tracing::info!(i, "request handled");
        }
    });
    drop(guard);
    // The compressor outlives the writer and finishes on its own, with
    // nothing left to tell: watch the pending files go. No bound on how
    // long that takes (the test runner's is the bound), and none asserted.
    while names(dir.path()).iter().any(|n| n.contains(".pending.")) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let names = names(dir.path());
    let gz: Vec<_> = names.iter().filter(|n| n.ends_with(".gz")).collect();
    assert!(gz.len() > 10, "{names:?}");
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    let in_gz: usize = gz.iter().map(|n| gunzip_lines(&dir.path().join(n))).sum();
    let current = std::fs::read_to_string(&path).unwrap().lines().count();
    assert_eq!(in_gz + current, 500);
}
