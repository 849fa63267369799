//! Target `reentrancy`: see ../../tests/fuzz_checks/reentrancy/, whose
//! checks the stable replay (tests/fuzz_replay.rs) runs too.
#![no_main]

#[path = "../../tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

use fuzz_checks::reentrancy::{self, Program};

libfuzzer_sys::fuzz_target!(
    // Once per process: the guarded stack becomes the GLOBAL default, and
    // deliberate panics stop aborting (libFuzzer's hook aborts on any
    // other panic, saving the input as a crash).
    init: {
        reentrancy::install();
    },
    |program: Program| {
        reentrancy::check(&program);
    }
);
