//! Target `encode`: the pre-built call sites (every field name of the
//! pool, at every level) events and spans are made on.

use super::*;

pub(super) const LONG_NAME: &str = concat!(
    "long_name_",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
    "0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
);
pub(super) const WEIRD_TARGET: &str = "tgt\u{2028}\"\\\n\u{0}é😀";
pub(super) const LONG_TARGET: &str = concat!(
    "fuzz::long::",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
    "target0123target0123target0123target0123target0123target0123",
);
pub(super) const WEIRD_SPAN: &str = "sp\u{2028}\"an\n\u{1b}";

/// Every call site's field set: names the format uses, duplicates,
/// collisions with renamed keys, `log.*` (not shown in events), `r#`
/// (stripped in spans), escapes, and a long name.
pub const NAMES: &[&str] = &[
    "message",
    "message",
    "level",
    "target",
    "fields",
    "span",
    "spans",
    "name",
    "timestamp",
    "threadName",
    "truncated",
    "service",
    "a",
    "a",
    "a.1",
    "r#type",
    "log.target",
    "",
    "\u{0}\n\r\t",
    "\"\\",
    "\u{2028}\u{2029}",
    "é😀\u{7f}",
    "\u{1b}[31mred",
    LONG_NAME,
];

macro_rules! site {
    ($site:ident, $meta:ident, $name:expr, $target:expr, $level:expr, $kind:expr, $file:expr, $line:expr) => {
        static $meta: Metadata<'static> = Metadata::new(
            $name,
            $target,
            $level,
            $file,
            $line,
            Some(module_path!()),
            FieldSet::new(NAMES, Identifier(&$site)),
            $kind,
        );
        static $site: DefaultCallsite = DefaultCallsite::new(&$meta);
    };
}

macro_rules! levels {
    ($name:expr, $target:expr, $kind:expr, $file:expr, $line:expr) => {{
        site!(S0, M0, $name, $target, Level::TRACE, $kind, $file, $line);
        site!(S1, M1, $name, $target, Level::DEBUG, $kind, $file, $line);
        site!(S2, M2, $name, $target, Level::INFO, $kind, $file, $line);
        site!(S3, M3, $name, $target, Level::WARN, $kind, $file, $line);
        site!(S4, M4, $name, $target, Level::ERROR, $kind, $file, $line);
        [&M0, &M1, &M2, &M3, &M4]
    }};
}

pub(super) type Sites = [[&'static Metadata<'static>; 5]; 3];

pub(super) static EVENT_SITES: Sites = [
    levels!(
        "event",
        "fuzz::encode",
        Kind::EVENT,
        Some(file!()),
        Some(line!())
    ),
    levels!(
        "event",
        WEIRD_TARGET,
        Kind::EVENT,
        Some(file!()),
        Some(line!())
    ),
    levels!("event", LONG_TARGET, Kind::EVENT, None, None),
];

pub(super) static SPAN_SITES: Sites = [
    levels!(
        "span",
        "fuzz::encode",
        Kind::SPAN,
        Some(file!()),
        Some(line!())
    ),
    levels!(
        WEIRD_SPAN,
        "fuzz::encode",
        Kind::SPAN,
        Some(file!()),
        Some(line!())
    ),
    levels!("name", LONG_TARGET, Kind::SPAN, None, None),
];

pub(super) fn site(sites: &Sites, which: u8, level: Lvl) -> &'static Metadata<'static> {
    sites[usize::from(which) % 3][level as usize]
}
