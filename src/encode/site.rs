//! A call site as the worker's decoder needs it: made once per call site
//! by the layer, read for every record of that site.

use tracing_core::Metadata;

/// A call site as the worker needs it: its metadata, and its field names
/// escaped once.
pub(crate) struct Site {
    pub(crate) meta: &'static Metadata<'static>,
    /// Each field's name, escaped for a JSON key (no quotes), by index.
    pub(crate) names: Box<[Box<[u8]>]>,
}

impl Site {
    pub(crate) fn new(meta: &'static Metadata<'static>) -> Site {
        let names = meta
            .fields()
            .iter()
            .map(|f| {
                let mut b = Vec::with_capacity(f.name().len());
                super::escape::escape(&mut b, f.name());
                b.into_boxed_slice()
            })
            .collect();
        Site { meta, names }
    }
}
