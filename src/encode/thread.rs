//! The current thread's name and id, formatted once per thread.
//!
//! `fmt().json()` calls `thread::current()` and formats the `ThreadId` into
//! a new `String` on every event; a thread's name and id never change, so
//! they are escaped once and kept in a thread-local.

use std::cell::OnceCell;
use std::fmt::Write as _;

/// One thread's name and id, as JSON strings (quoted, escaped).
pub(crate) struct ThreadInfo {
    /// `"worker-1"`, when the thread has a name.
    pub(crate) name: Option<Box<[u8]>>,
    /// `"ThreadId(7)"`, as `fmt().json()` writes it.
    pub(crate) id: Box<[u8]>,
}

impl ThreadInfo {
    fn current() -> ThreadInfo {
        let thread = std::thread::current();
        let name = thread.name().map(|n| {
            let mut b = Vec::with_capacity(n.len() + 2);
            super::escape::quote(&mut b, n);
            b.into_boxed_slice()
        });
        let mut id = String::with_capacity(24);
        let _ = write!(id, "\"{:?}\"", thread.id());
        ThreadInfo {
            name,
            id: id.into_bytes().into_boxed_slice(),
        }
    }
}

thread_local! {
    static INFO: OnceCell<ThreadInfo> = const { OnceCell::new() };
}

/// Runs `f` with the current thread's info.
#[inline]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadInfo) -> R) -> R {
    let mut f = Some(f);
    let cached = INFO.try_with(|cell| {
        let f = f.take().expect("called once");
        f(cell.get_or_init(ThreadInfo::current))
    });
    match cached {
        Ok(r) => r,
        // Thread teardown: compute it without the cache.
        Err(_) => (f.take().expect("not called"))(&ThreadInfo::current()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn named_thread() {
        let (name, id) = std::thread::Builder::new()
            .name("with \"quotes\"".into())
            .spawn(|| {
                super::with(|t| {
                    (
                        String::from_utf8(t.name.clone().unwrap().into_vec()).unwrap(),
                        String::from_utf8(t.id.clone().into_vec()).unwrap(),
                    )
                })
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name, r#""with \"quotes\"""#);
        assert!(id.starts_with("\"ThreadId(") && id.ends_with(")\""), "{id}");
    }
}
