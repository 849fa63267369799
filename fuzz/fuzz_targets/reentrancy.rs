//! Target `reentrancy`: see ../../tests/fuzz_checks/reentrancy/, whose
//! checks the stable replay (tests/fuzz_replay.rs) runs too.
#![no_main]

// The checks: a crate of their own, compiled without coverage.
extern crate fuzz_checks;

// Compiled here, with coverage: the guarded stack (see calls.rs).
#[path = "../../tests/fuzz_checks/calls.rs"]
#[allow(dead_code)] // the other targets' calls
mod calls;

use fuzz_checks::reentrancy::{self, Program};

libfuzzer_sys::fuzz_target!(
    // Once per process: the guarded stack becomes the GLOBAL default, and
    // deliberate panics stop aborting (libFuzzer's hook aborts on any
    // other panic, saving the input as a crash).
    init: {
        reentrancy::install(calls::reentrancy_stack);
    },
    |program: Program| {
        reentrancy::check(&program, calls::reentrancy_stack);
    }
);
