//! Property tests: whatever the field names and values, each event gives
//! one line of valid JSON with unique keys, whose string values come back
//! exactly as they went in.

mod json_support;

use std::sync::OnceLock;

use json_support::{check_record, Capture, J};
use layer_safe::JsonLayer;
use proptest::prelude::*;
use tracing_core::callsite::Callsite;
use tracing_core::field::{FieldSet, Value};
use tracing_core::{Interest, Kind, Level, Metadata};
use tracing_subscriber::prelude::*;

/// A call site made at run time, so field names can be anything.
struct DynCallsite(OnceLock<&'static Metadata<'static>>);

impl Callsite for DynCallsite {
    fn set_interest(&self, _: Interest) {}
    fn metadata(&self) -> &Metadata<'_> {
        self.0.get().expect("metadata set")
    }
}

fn leak_meta(names: &[String], kind: Kind) -> &'static Metadata<'static> {
    let cs: &'static DynCallsite = Box::leak(Box::new(DynCallsite(OnceLock::new())));
    let names: Vec<&'static str> = names
        .iter()
        .map(|n| &*Box::leak(n.clone().into_boxed_str()))
        .collect();
    let names: &'static [&'static str] = Box::leak(names.into_boxed_slice());
    let meta: &'static Metadata<'static> = Box::leak(Box::new(Metadata::new(
        "dynamic",
        "json_props",
        Level::INFO,
        None,
        None,
        None,
        FieldSet::new(names, tracing_core::identify_callsite!(cs)),
        kind,
    )));
    cs.0.set(meta).ok();
    meta
}

#[derive(Clone, Debug)]
enum V {
    Str(String),
    Dbg(String),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    Bool(bool),
}

impl V {
    fn as_value(&self) -> &dyn Value {
        match self {
            V::Str(s) => s,
            V::Dbg(s) => s, // replaced by a `DebugValue` below
            V::U64(v) => v,
            V::I64(v) => v,
            V::U128(v) => v,
            V::I128(v) => v,
            V::F64(v) => v,
            V::Bool(v) => v,
        }
    }

    /// What the record must hold for this value.
    fn expected(&self) -> J {
        match self {
            V::Str(s) => J::Str(s.clone()),
            V::Dbg(s) => J::Str(format!("{s:?}")),
            V::U64(v) => J::Num(v.to_string()),
            V::I64(v) => J::Num(v.to_string()),
            V::U128(v) if *v <= u64::MAX as u128 => J::Num(v.to_string()),
            V::U128(v) => J::Str(v.to_string()),
            V::I128(v) if i64::try_from(*v).is_ok() => J::Num(v.to_string()),
            V::I128(v) => J::Str(v.to_string()),
            V::F64(v) if v.is_nan() => J::Str("NaN".into()),
            V::F64(v) if v.is_infinite() => J::Str(if *v > 0.0 { "inf" } else { "-inf" }.into()),
            V::F64(v) => J::Num(serde_json::to_string(v).unwrap()),
            V::Bool(v) => J::Bool(*v),
        }
    }
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        // Names the format uses, and collisions with renamed keys.
        prop::sample::select(vec![
            "message", "level", "target", "fields", "name", "a", "a.1", "service"
        ])
        .prop_map(str::to_owned),
        any::<String>(),
        "[a-z\\.\u{0}-\u{1f}\u{2028}\"\\\\]{0,6}",
    ]
}

fn value() -> impl Strategy<Value = V> {
    prop_oneof![
        any::<String>().prop_map(V::Str),
        "[\u{0}-\u{7f}\u{2028}\u{2029}é😀]{0,40}".prop_map(V::Str),
        any::<String>().prop_map(V::Dbg),
        any::<u64>().prop_map(V::U64),
        any::<i64>().prop_map(V::I64),
        any::<u128>().prop_map(V::U128),
        any::<i128>().prop_map(V::I128),
        any::<f64>().prop_map(V::F64),
        prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0])
            .prop_map(V::F64),
        any::<bool>().prop_map(V::Bool),
    ]
}

/// Emits one span and one event inside it with the given fields, through
/// a layer built by `build`; returns the record.
fn emit(
    fields: &[(String, V)],
    build: impl FnOnce(layer_safe::JsonLayerBuilder) -> layer_safe::JsonLayerBuilder,
) -> String {
    let names: Vec<String> = fields.iter().map(|(n, _)| n.clone()).collect();
    let event_meta = leak_meta(&names, Kind::EVENT);
    let span_meta = leak_meta(&names, Kind::SPAN);
    let debugs: Vec<Option<tracing_core::field::DebugValue<&String>>> = fields
        .iter()
        .map(|(_, v)| match v {
            V::Dbg(s) => Some(tracing_core::field::debug(s)),
            _ => None,
        })
        .collect();
    let values: Vec<Option<&dyn Value>> = fields
        .iter()
        .zip(&debugs)
        .map(|((_, v), d)| Some(d.as_ref().map_or(v.as_value(), |d| d as &dyn Value)))
        .collect();

    let out = Capture::default();
    let layer = build(JsonLayer::builder(out.sink())).build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::Span::new(span_meta, &span_meta.fields().value_set_all(&values));
        let _g = span.enter();
        tracing_core::Event::dispatch(event_meta, &event_meta.fields().value_set_all(&values));
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    lines.into_iter().next().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_fields_give_one_valid_line(fields in prop::collection::vec((name(), value()), 0..12)) {
        let line = emit(&fields, |b| b);
        let record = check_record(&line);
        // The event's members are in field order, one per field (renamed
        // where needed), with the values exactly as given.
        let J::Obj(members) = record.get("fields").unwrap() else { panic!("fields is an object") };
        prop_assert_eq!(members.len(), fields.len());
        for ((key, got), (name, v)) in members.iter().zip(&fields) {
            prop_assert!(key == name || key.strip_prefix(name.as_str()).is_some_and(|r| r.starts_with('.')),
                "{key:?} for {name:?}");
            prop_assert_eq!(got, &v.expected(), "field {:?}", name);
        }
        // Span fields: one member per field plus the name.
        let J::Obj(span) = record.get("span").unwrap() else { panic!("span is an object") };
        prop_assert_eq!(span.len(), fields.len() + 1);
        prop_assert_eq!(record.get("span").unwrap().get("name"), Some(&J::Str("dynamic".into())));
    }

    #[test]
    fn flattened_fields_never_collide(fields in prop::collection::vec((name(), value()), 0..12)) {
        let line = emit(&fields, |b| {
            b.flatten_event(true)
                .flatten_span_fields(true)
                .static_field("service", "svc")
                .with_thread_names(true)
                .with_file(true)
        });
        let record = check_record(&line);
        prop_assert_eq!(record.get("level"), Some(&J::Str("INFO".into())));
        prop_assert_eq!(record.get("service"), Some(&J::Str("svc".into())));
        prop_assert_eq!(record.get("target"), Some(&J::Str("json_props".into())));
    }

    #[test]
    fn text_lines_stay_one_line(fields in prop::collection::vec((name(), value()), 0..12)) {
        let line = emit(&fields, |b| b.format(layer_safe::LineFormat::Text));
        let one_line = !line.contains(['\n', '\r', '\u{1b}', '\u{2028}', '\u{2029}']);
        prop_assert!(one_line, "{:?}", line);
    }
}
