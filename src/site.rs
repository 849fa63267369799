//! Call sites: where an event, a span or an external call came from, in a
//! form a report can print.

use std::fmt;
use std::hash::{Hash, Hasher};

use tracing_core::Metadata;

use crate::path::Origin;

/// A place in the program that logged, or called out, as a report shows it.
///
/// Built from an event's or span's [`Metadata`], from a
/// [`Location`](std::panic::Location), or naming a part of layer-safe itself
/// (such as the sink's worker thread).
///
/// # Examples
///
/// ```
/// let here = layer_safe::CallSite::caller();
/// assert_eq!(here.file(), Some(file!()));
/// assert!(here.to_string().starts_with("call at "));
/// ```
#[derive(Clone, Copy)]
pub struct CallSite {
    kind: Kind,
    name: &'static str,
    target: &'static str,
    file: Option<&'static str>,
    line: Option<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Event,
    Span,
    Call,
    Internal,
}

/// Field by field, as a derived `PartialEq` would, but the line first and
/// a string equal to itself without reading it: the guard compares call
/// sites for every recursion it counts (its pairs, the violation store), and
/// they are nearly always the same `&'static` strings.
impl PartialEq for CallSite {
    #[inline]
    fn eq(&self, other: &CallSite) -> bool {
        fn same(a: &str, b: &str) -> bool {
            a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
        }
        self.line == other.line
            && self.kind == other.kind
            && same(self.name, other.name)
            && same(self.target, other.target)
            && match (self.file, other.file) {
                (Some(a), Some(b)) => same(a, b),
                (a, b) => a.is_none() && b.is_none(),
            }
    }
}

impl Eq for CallSite {}

/// What the derived `Hash` would hash: the fields `eq` compares.
impl Hash for CallSite {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self.kind, self.name, self.target, self.file, self.line).hash(h);
    }
}

impl CallSite {
    /// The call site of an event or span.
    pub fn from_metadata(meta: &'static Metadata<'static>) -> CallSite {
        CallSite {
            kind: if meta.is_span() {
                Kind::Span
            } else {
                Kind::Event
            },
            name: meta.name(),
            target: meta.target(),
            file: meta.file(),
            line: meta.line(),
        }
    }

    /// The call site of the function that called the `#[track_caller]`
    /// function calling this.
    #[track_caller]
    pub fn caller() -> CallSite {
        let loc = std::panic::Location::caller();
        CallSite {
            kind: Kind::Call,
            name: "",
            target: "",
            file: Some(loc.file()),
            line: Some(loc.line()),
        }
    }

    pub(crate) fn internal(name: &'static str) -> CallSite {
        CallSite {
            kind: Kind::Internal,
            name,
            target: "layer_safe",
            file: None,
            line: None,
        }
    }

    pub(crate) fn from_origin(origin: Origin) -> CallSite {
        match origin {
            Origin::Callsite(meta) => CallSite::from_metadata(meta),
            Origin::Named(name) => CallSite::internal(name),
            Origin::Unknown => CallSite::internal("logging path"),
        }
    }

    /// The event's or span's name (for events, tracing's `"event file:line"`);
    /// the thread's role for layer-safe's own threads; empty for calls.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The `tracing` target (usually the module path); empty for calls.
    pub fn target(&self) -> &'static str {
        self.target
    }

    /// The source file, when known.
    pub fn file(&self) -> Option<&'static str> {
        self.file
    }

    /// The source line, when known.
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// `true` for a span's call site.
    pub fn is_span(&self) -> bool {
        self.kind == Kind::Span
    }
}

impl fmt::Display for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Event => "event",
            Kind::Span => "span",
            Kind::Call => "call",
            Kind::Internal => return write!(f, "layer-safe's {}", self.name),
        };
        f.write_str(what)?;
        if self.kind == Kind::Span {
            write!(f, " `{}`", self.name)?;
        }
        match (self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " at {file}:{line}")?,
            (Some(file), None) => write!(f, " at {file}")?,
            _ => f.write_str(" at an unknown place")?,
        }
        if !self.target.is_empty() {
            write!(f, " (target {})", self.target)?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
