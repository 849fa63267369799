//! The worker's half of the layer: its settled options and call-site
//! table, and the [`Render`] the sink calls to format this layer's records.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use crossbeam_utils::CachePadded;
use tracing_core::Metadata;

use crate::clock::WallClock;
use crate::encode::event::{self, Event};
use crate::encode::record::Value;
use crate::encode::site::Site;
use crate::encode::Config;
use crate::sink_core::Render;

use super::storm::Suppressed;

/// What the layer's callers and the sink's worker share.
pub(crate) struct Format {
    /// Read by every caller per event: padded, so that no line of it is one
    /// the worker writes (the `Arc`'s counts before it, the lock after).
    pub(crate) cfg: CachePadded<Config>,
    /// Call sites by index, as records name them; read-locked by the worker
    /// per record.
    sites: CachePadded<RwLock<Vec<Site>>>,
    /// Index by call-site address, for callers whose thread cache missed.
    index: Mutex<HashMap<usize, u32>>,
    /// Events the rate limit suppressed, when there is one.
    pub(crate) storm: Option<Suppressed>,
}

impl Format {
    pub(crate) fn new(cfg: Config, rate_limited: bool) -> Format {
        Format {
            cfg: CachePadded::new(cfg),
            sites: CachePadded::new(RwLock::new(Vec::new())),
            index: Mutex::new(HashMap::new()),
            storm: rate_limited.then(Suppressed::default),
        }
    }

    /// The index of `meta`, added to the table on first sight. Cold: each
    /// thread caches what it looked up.
    #[cold]
    pub(crate) fn intern(&self, meta: &'static Metadata<'static>) -> u32 {
        let addr = meta as *const Metadata<'static> as usize;
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        *index.entry(addr).or_insert_with(|| {
            let mut sites = self.sites.write().unwrap_or_else(|p| p.into_inner());
            sites.push(Site::new(meta));
            (sites.len() - 1) as u32
        })
    }
}

impl Render for Format {
    fn render(&self, payload: &[u8], clock: &WallClock, max: usize, out: &mut Vec<u8>) -> bool {
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        let site = |i: u32| sites.get(i as usize);
        match Event::decode(payload, site, clock, self.cfg.timestamp) {
            Some(ev) => event::render(&self.cfg, &ev, max, out),
            // Only this crate writes records; a short one cannot happen.
            None => false,
        }
    }

    fn own_record(
        &self,
        level: tracing_core::Level,
        now: std::time::SystemTime,
        fields: &[(&str, Value<'_>)],
        max: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        event::render_own(&self.cfg, level, now, fields, max, out)
    }

    fn suppressed(&self, each: &mut dyn FnMut(u32, &'static Metadata<'static>, u64)) {
        let Some(storm) = &self.storm else { return };
        let sites = self.sites.read().unwrap_or_else(|p| p.into_inner());
        storm.totals(|i, n| {
            if let Some(site) = sites.get(i as usize) {
                each(i, site.meta, n);
            }
        });
    }
}
