//! When a flush is answered: only once what the sink owes the output (a
//! cut line's newline, the drop report) went out, for every request, also
//! one that came while an earlier request's round was being written (fuzz
//! `sink`, `regressions/sink/crash-bf19...`: a request taken during the
//! back-off of a given-up batch was answered `true` with the newline of
//! the line that batch cut still owed).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_channel::{Receiver, Sender};
use tracing_core::Level;

use super::Control;
use crate::Sink;

#[derive(Default)]
struct State {
    out: Vec<u8>,
    calls: usize,
    /// Where the writer asks its requests (the guard's channel).
    ctrl: Option<Sender<Control>>,
    /// The requests it asks: in its fourth call, the last failure of the
    /// record's batch, and in its seventh, the last failure of the batch of
    /// the newline that one left owed.
    asks: Vec<Control>,
    /// A write is waiting at the gate.
    waiting: bool,
    open: bool,
}

/// Takes the record but its newline, fails three times (so the batch is
/// given up and the newline owed), fails three more times (the batch of
/// the newline, written for the first request, is given up too), then
/// waits at a gate.
#[derive(Clone, Default)]
struct Cuts(Arc<(Mutex<State>, Condvar)>);

impl Write for Cuts {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (m, c) = &*self.0;
        let mut s = m.lock().unwrap();
        s.calls += 1;
        let call = s.calls;
        if call == 4 || call == 7 {
            let ask = s.asks.remove(0);
            s.ctrl.as_ref().unwrap().send(ask).unwrap();
        }
        match call {
            1 => {
                let n = buf.iter().position(|b| *b == b'\n').unwrap();
                s.out.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            2..=7 => Err(io::Error::other("disk full")),
            _ => {
                s.waiting = true;
                c.notify_all();
                while !s.open {
                    s = c.wait(s).unwrap();
                }
                s.out.extend_from_slice(buf);
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn flush_request() -> (Control, Receiver<bool>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    (Control::Flush(tx), rx)
}

#[test]
fn a_flush_asked_while_a_cut_line_is_given_up_waits_for_its_newline() {
    let w = Cuts::default();
    let (first, first_answer) = flush_request();
    let (second, second_answer) = flush_request();
    w.0 .0.lock().unwrap().asks = vec![first, second];
    let (sink, guard) = Sink::builder()
        .writer(w.clone())
        .virtual_time(true)
        .build()
        .unwrap();
    w.0 .0.lock().unwrap().ctrl = Some(guard.control());
    let mut record = sink.buffer();
    record.extend_from_slice(b"{\"n\":1}\n");
    sink.submit(Level::INFO, record).unwrap();
    // The owed newline waits at the gate: the second request, taken during
    // the back-off after the first one's round was given up, is not
    // answered before that newline is out.
    let (m, c) = &*w.0;
    let mut s = m.lock().unwrap();
    while !s.waiting {
        s = c.wait(s).unwrap();
    }
    assert!(
        second_answer.try_recv().is_err(),
        "answered with the newline still owed"
    );
    s.open = true;
    c.notify_all();
    drop(s);
    // The first request's round (the owed newline) was given up: false.
    assert!(!first_answer.recv().unwrap());
    assert!(second_answer.recv().unwrap());
    assert_eq!(m.lock().unwrap().out, b"{\"n\":1}\n");
    drop(guard);
}
