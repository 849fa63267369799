//! Raising a violation: recorded in the thread's capture scope, or else in
//! the process-wide store, then, under `Policy::Panic`, a panic.

use super::local::{self, policy};
use super::policy::Policy;
use super::store;
use super::violation::ViolationKind;
use crate::path;

/// Records one violation under the thread's policy: in the thread's capture
/// scope if one is open, in the process-wide store otherwise. Panics after
/// recording it when `may_panic` and the policy is `Panic` (never while
/// already panicking: that would abort).
#[track_caller]
pub(super) fn violation(kind: ViolationKind, may_panic: bool) {
    let policy = policy();
    if policy == Policy::Ignore {
        return;
    }
    let message = (may_panic && policy == Policy::Panic && !std::thread::panicking())
        .then(|| kind.to_string());
    if let Some(kind) = local::capture(kind) {
        store::record(kind);
    }
    if let Some(message) = message {
        // Through the encoder's containment too: strict mode fails loudly.
        path::arm_strict_unwind();
        panic!(
            "layer-safe: {message}\n(policy `panic`; {}=report records violations instead)",
            Policy::ENV_VAR
        );
    }
}
