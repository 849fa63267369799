//! Timestamps without a date crate and without formatting the clock from
//! scratch on every event.
//!
//! RFC 3339 in UTC with microseconds (`2026-11-28T22:09:42.123456Z`, as
//! `fmt().json()` writes it). The `YYYY-MM-DDTHH:MM:SS.` prefix changes once
//! a second, so each thread keeps the last one it formatted and an event
//! only writes the six sub-second digits.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// A moment, as seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Now {
    secs: i64,
    nanos: u32,
}

impl Now {
    /// The epoch, for records that show no time.
    pub(crate) const ZERO: Now = Now { secs: 0, nanos: 0 };

    /// `t` as seconds and nanoseconds since the epoch.
    #[inline]
    pub(crate) fn from_system_time(t: SystemTime) -> Now {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Now {
                secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nanos: d.subsec_nanos(),
            },
            // A clock set before 1970.
            Err(e) => {
                let d = e.duration();
                let mut secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                let mut nanos = d.subsec_nanos();
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                Now { secs, nanos }
            }
        }
    }

    /// `nanos` since the Unix epoch (negative before it).
    #[inline]
    pub(crate) fn from_unix_nanos(nanos: i128) -> Now {
        let secs = nanos.div_euclid(1_000_000_000);
        Now {
            secs: i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX }),
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }

    #[cfg(test)]
    pub(crate) fn at(secs: i64, nanos: u32) -> Now {
        Now { secs, nanos }
    }
}

/// The formatted prefix of one second: `YYYY-MM-DDTHH:MM:SS.`.
#[derive(Clone, Copy)]
struct Prefix {
    secs: i64,
    len: u8,
    bytes: [u8; 32],
}

impl Prefix {
    const EMPTY: Prefix = Prefix {
        secs: i64::MIN,
        len: 0,
        bytes: [0; 32],
    };

    fn format(secs: i64) -> Prefix {
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let mut p = Prefix {
            secs,
            len: 0,
            bytes: [0; 32],
        };
        let mut w = |b: &[u8]| {
            let at = p.len as usize;
            p.bytes[at..at + b.len()].copy_from_slice(b);
            p.len += b.len() as u8;
        };
        // As `fmt().json()` does: four digits, a sign outside 0..=9999.
        if year > 9999 {
            w(b"+");
            w(itoa::Buffer::new().format(year).as_bytes());
        } else if year < 0 {
            w(b"-");
            w(&pad::<4>(year.unsigned_abs()));
        } else {
            w(&pad::<4>(year.unsigned_abs()));
        }
        w(b"-");
        w(&pad::<2>(month.into()));
        w(b"-");
        w(&pad::<2>(day.into()));
        w(b"T");
        w(&pad::<2>((sod / 3600) as u64));
        w(b":");
        w(&pad::<2>((sod / 60 % 60) as u64));
        w(b":");
        w(&pad::<2>((sod % 60) as u64));
        w(b".");
        p
    }
}

/// `n` in exactly `N` decimal digits (the low ones).
#[inline]
fn pad<const N: usize>(mut n: u64) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

thread_local! {
    static PREFIX: Cell<Prefix> = const { Cell::new(Prefix::EMPTY) };
}

/// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ` (no quotes).
#[inline]
pub(crate) fn rfc3339(buf: &mut Vec<u8>, now: Now) {
    let prefix = PREFIX
        .try_with(|cell| {
            let p = cell.get();
            if p.secs == now.secs {
                return p;
            }
            let p = Prefix::format(now.secs);
            cell.set(p);
            p
        })
        // Thread teardown: no cache, format it once.
        .unwrap_or_else(|_| Prefix::format(now.secs));
    buf.extend_from_slice(&prefix.bytes[..prefix.len as usize]);
    buf.extend_from_slice(&pad::<6>(u64::from(now.nanos / 1000)));
    buf.push(b'Z');
}

/// Appends the nanoseconds since the Unix epoch, as a JSON number.
#[inline]
pub(crate) fn unix_nanos(buf: &mut Vec<u8>, now: Now) {
    let nanos = i128::from(now.secs) * 1_000_000_000 + i128::from(now.nanos);
    super::value::i128(buf, nanos);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(t: std::time::SystemTime) -> String {
        let mut out = Vec::new();
        rfc3339(&mut out, Now::from_system_time(t));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc3339_of_system_times() {
        assert_eq!(at(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
        // 2024-02-29T23:59:59.5Z, a leap day.
        let leap = UNIX_EPOCH + Duration::from_millis(1_709_251_199_500);
        assert_eq!(at(leap), "2024-02-29T23:59:59.500000Z");
        assert_eq!(
            &at(UNIX_EPOCH + Duration::from_secs(951_782_400))[..10],
            "2000-02-29"
        );
    }

    fn fmt(secs: i64, nanos: u32) -> String {
        let mut b = Vec::new();
        rfc3339(&mut b, Now::at(secs, nanos));
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn known_instants() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(fmt(951_782_400, 999_999_999), "2000-02-29T00:00:00.999999Z");
        assert_eq!(
            fmt(1_732_831_782, 123_456_789),
            "2024-11-28T22:09:42.123456Z"
        );
        assert_eq!(
            fmt(1_795_903_782, 123_456_000),
            "2026-11-28T22:09:42.123456Z"
        );
        assert_eq!(fmt(-1, 0), "1969-12-31T23:59:59.000000Z");
        // The cached prefix is reused within a second, replaced after it.
        assert_eq!(fmt(0, 1_000), "1970-01-01T00:00:00.000001Z");
        assert_eq!(fmt(59, 0), "1970-01-01T00:00:59.000000Z");
    }

    #[test]
    fn every_day_for_centuries() {
        // Walk day by day from 1900 to 2200, counting the calendar by hand.
        let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let (mut y, mut m, mut d) = (1900i64, 1u8, 1u8);
        let mut days = -25_567i64; // 1900-01-01
        while y < 2200 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
            days += 1;
        }
    }

    #[test]
    fn nanos() {
        let mut b = Vec::new();
        unix_nanos(&mut b, Now::at(1_732_831_782, 123_456_789));
        assert_eq!(b, b"1732831782123456789");
    }
}
