//! [`Rotation`]: how often time-rolled files roll. This crate's own type,
//! with the constants `tracing-appender`'s has, so that a new release of
//! theirs is not a breaking change of ours.

/// How often [`rolling_by_time`](super::rolling_by_time)'s files (and
/// `RollingByTime`'s, feature `compress`) roll: a new file per minute,
/// hour, day or week (weeks start on Sunday), or one file for good.
///
/// # Examples
///
/// ```
/// use layer_safe::sink::writers::Rotation;
///
/// assert_ne!(Rotation::DAILY, Rotation::HOURLY);
/// assert_eq!(format!("{:?}", Rotation::DAILY), "Rotation::DAILY");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rotation(pub(crate) Period);

/// The length of one file's period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Period {
    Minute,
    Hour,
    Day,
    Week,
    Never,
}

impl Rotation {
    /// A new file every minute.
    pub const MINUTELY: Rotation = Rotation(Period::Minute);
    /// A new file every hour.
    pub const HOURLY: Rotation = Rotation(Period::Hour);
    /// A new file every day (UTC).
    pub const DAILY: Rotation = Rotation(Period::Day);
    /// A new file every week, from Sunday (UTC).
    pub const WEEKLY: Rotation = Rotation(Period::Week);
    /// One file, never rolled.
    pub const NEVER: Rotation = Rotation(Period::Never);

    /// `tracing-appender`'s, for its `RollingFileAppender`.
    pub(crate) fn appender(self) -> tracing_appender::rolling::Rotation {
        use tracing_appender::rolling::Rotation as R;
        match self.0 {
            Period::Minute => R::MINUTELY,
            Period::Hour => R::HOURLY,
            Period::Day => R::DAILY,
            Period::Week => R::WEEKLY,
            Period::Never => R::NEVER,
        }
    }
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            Period::Minute => "MINUTELY",
            Period::Hour => "HOURLY",
            Period::Day => "DAILY",
            Period::Week => "WEEKLY",
            Period::Never => "NEVER",
        };
        write!(f, "Rotation::{name}")
    }
}
