//! Target `sink`: see ../../tests/fuzz_checks/sink/, whose checks the
//! stable replay (tests/fuzz_replay.rs) runs too.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

use fuzz_checks::sink::{self, Input};

libfuzzer_sys::fuzz_target!(
    // Deliberate panics (a writer that panics) pass quietly; libFuzzer's
    // hook aborts on any other, saving the input as a crash.
    init: {
        fuzz_checks::install_panic_hook();
    },
    |input: Input| {
        sink::check(&input);
    }
);
