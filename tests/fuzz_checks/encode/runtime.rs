//! Target `encode`: the values as the program hands them to `tracing`
//! (`Debug`/`Display` that write in pieces, fail or panic; error chains).

use super::*;

/// A value whose `Debug` and `Display` follow a [`FmtSpec`].
#[derive(Clone)]
pub(super) struct UserFmt(pub(super) FmtSpec);

impl UserFmt {
    pub(super) fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chunks.iter().take(MAX_CHUNKS) {
            f.write_str(&c.materialize())?;
        }
        match &self.0.end {
            FmtEnd::Ok => Ok(()),
            FmtEnd::Err => Err(fmt::Error),
            FmtEnd::Panic(kind) => raise(kind),
        }
    }
}

impl fmt::Debug for UserFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl fmt::Display for UserFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

/// A panic payload whose destructor panics.
pub(super) struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            deliberate_panic("a panic payload's destructor panicked");
        }
    }
}

pub(super) fn raise(kind: &PanicKind) -> ! {
    match kind {
        PanicKind::Message(m) => deliberate_panic(m.materialize()),
        PanicKind::Static => deliberate_panic(STATIC_PANIC),
        PanicKind::Opaque => deliberate_panic(7_u64),
        PanicKind::DropPanics => deliberate_panic(DropBomb),
    }
}

/// A `dyn Error` built from an [`ErrSpec`].
pub(super) struct FuzzError {
    pub(super) display: UserFmt,
    pub(super) source_panics: Option<PanicKind>,
    pub(super) cycle: bool,
    pub(super) next: Option<Box<FuzzError>>,
}

impl FuzzError {
    pub(super) fn new(spec: &ErrSpec, depth: usize) -> FuzzError {
        let next = match &spec.next {
            ErrNext::Chain(n) if depth < MAX_ERROR_CHAIN => {
                Some(Box::new(FuzzError::new(n, depth + 1)))
            }
            _ => None,
        };
        FuzzError {
            display: UserFmt(spec.display.clone()),
            source_panics: spec.source_panics.clone(),
            cycle: matches!(spec.next, ErrNext::Cycle),
            next,
        }
    }
}

impl fmt::Debug for FuzzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FuzzError")
    }
}

impl fmt::Display for FuzzError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.display.write(f)
    }
}

impl Error for FuzzError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        if let Some(kind) = &self.source_panics {
            raise(kind);
        }
        if self.cycle {
            return Some(self);
        }
        self.next.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

pub(super) fn to_value(v: &FVal) -> Box<dyn Value> {
    use tracing::field::{debug, display};
    match v {
        FVal::U64(x) => Box::new(*x),
        FVal::I64(x) => Box::new(*x),
        FVal::U128(x) => Box::new(*x),
        FVal::I128(x) => Box::new(*x),
        FVal::F64(x) => Box::new(*x),
        FVal::F64Special(k) => Box::new(special_float(*k)),
        FVal::Bool(x) => Box::new(*x),
        FVal::Str(s) => Box::new(s.materialize()),
        FVal::DebugStr(s) => Box::new(debug(s.materialize())),
        FVal::DisplayStr(s) => Box::new(display(s.materialize())),
        FVal::Debug(spec) => Box::new(debug(UserFmt(spec.clone()))),
        FVal::Display(spec) => Box::new(display(UserFmt(spec.clone()))),
        FVal::Error(spec) => {
            let e: Box<dyn Error + 'static> = Box::new(FuzzError::new(spec, 0));
            Box::new(e)
        }
        FVal::Bytes(b) => Box::new(b.clone().into_boxed_slice()),
    }
}

pub(super) fn special_float(k: u8) -> f64 {
    SPECIAL_FLOATS[usize::from(k) % SPECIAL_FLOATS.len()]
}

/// The fields an action gives: (index in [`NAMES`], value), at most
/// [`MAX_FIELDS`].
pub(super) fn picks(fields: &[(u8, FVal)]) -> Vec<(usize, FVal)> {
    fields
        .iter()
        .take(MAX_FIELDS)
        .map(|(i, v)| (usize::from(*i) % NAMES.len(), v.clone()))
        .collect()
}

/// Calls `f` with a `ValueSet` of `meta`'s fields holding `fields`, in that
/// order (repeats included).
pub(super) fn with_values<R>(
    meta: &'static Metadata<'static>,
    fields: &[(usize, FVal)],
    f: impl FnOnce(&tracing_core::field::ValueSet<'_>) -> R,
) -> R {
    let set = meta.fields();
    let all: Vec<_> = set.iter().collect();
    let values: Vec<Box<dyn Value>> = fields.iter().map(|(_, v)| to_value(v)).collect();
    let mut arr: [(&tracing_core::field::Field, Option<&dyn Value>); MAX_FIELDS] =
        std::array::from_fn(|_| (&all[0], None));
    for (slot, ((i, _), v)) in arr.iter_mut().zip(fields.iter().zip(&values)) {
        *slot = (&all[*i], Some(&**v));
    }
    f(&set.value_set(&arr))
}
