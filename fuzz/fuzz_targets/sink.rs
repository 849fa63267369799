//! Target `sink`: see ../../tests/fuzz_checks/sink/, whose checks the
//! stable replay (tests/fuzz_replay.rs) runs too.
#![no_main]

// The checks: a crate of their own, compiled without coverage.
extern crate fuzz_checks;

// Compiled here, with coverage: the sink's submit (see calls.rs).
#[path = "../../tests/fuzz_checks/calls.rs"]
#[allow(dead_code)] // the other targets' calls
mod calls;

use fuzz_checks::sink::{self, Input};

libfuzzer_sys::fuzz_target!(
    // Deliberate panics (a writer that panics) pass quietly; libFuzzer's
    // hook aborts on any other, saving the input as a crash.
    init: {
        fuzz_checks::install_panic_hook();
    },
    |input: Input| {
        sink::check(&input, calls::submit);
    }
);
