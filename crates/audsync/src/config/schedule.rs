//! `Schedule`: when `audsync serve` syncs a segment: `every 15m` / `every 1h` / `every 1d`, or a
//! five-field cron expression evaluated in UTC.
//!
//! Cron subset: `MINUTE HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK` (0–59, 0–23, 1–31, 1–12, 0–7 with
//! 0 and 7 = Sunday); each field is `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a
//! comma-separated list of those. No names (`MON`, `JAN`) and no `L`/`W`/`#`. As in cron, when
//! both day fields are restricted a day matches if either does.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shortest interval `every` accepts: a sync more often than this would only queue up
/// behind the previous one (a 10,000-row batch alone takes seconds at Meta).
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// How far ahead `next_after` searches for a cron match (a `31 2 30 2 *`-style expression
/// never matches; 5 years covers every real one, including 29 February).
const MAX_CRON_SEARCH_DAYS: i64 = 5 * 366;

#[derive(Clone, PartialEq, Eq)]
pub enum Schedule {
    Every(Duration),
    Cron(Box<Cron>),
}

/// A parsed cron expression: one bit per allowed value.
#[derive(Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days_of_month: u32,
    months: u16,
    days_of_week: u8,
    day_of_month_restricted: bool,
    day_of_week_restricted: bool,
}

impl Schedule {
    /// Parses `every <N><s|m|h|d>` or a cron expression; the error says what was expected.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        if let Some(interval) = text.strip_prefix("every") {
            return parse_interval(interval.trim()).map(Schedule::Every);
        }
        Cron::parse(text).map(|cron| Schedule::Cron(Box::new(cron)))
    }

    /// The first time strictly after `after` at which the segment should sync. For `every`,
    /// that is `after + interval` (pass the last run's start).
    pub fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        match self {
            Schedule::Every(interval) => after.checked_add(*interval),
            Schedule::Cron(cron) => cron.next_after(after),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Every(interval) => {
                let seconds = interval.as_secs();
                let (n, unit) = if seconds % 86_400 == 0 {
                    (seconds / 86_400, "d")
                } else if seconds % 3600 == 0 {
                    (seconds / 3600, "h")
                } else if seconds % 60 == 0 {
                    (seconds / 60, "m")
                } else {
                    (seconds, "s")
                };
                write!(formatter, "every {n}{unit}")
            }
            Schedule::Cron(cron) => write!(formatter, "cron {}", cron.text),
        }
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Schedule({self})")
    }
}

fn parse_interval(text: &str) -> Result<Duration, String> {
    let expected = || {
        format!(
            "invalid interval {text:?} (expected a number and a unit, like \"every 15m\", \
             \"every 1h\" or \"every 1d\")"
        )
    };
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .ok_or_else(expected)?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| expected())?;
    let unit_seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(expected()),
    };
    let interval = Duration::from_secs(n.checked_mul(unit_seconds).ok_or_else(expected)?);
    if interval < MIN_INTERVAL {
        return Err(format!(
            "interval {text:?} is shorter than the minimum of {} seconds",
            MIN_INTERVAL.as_secs()
        ));
    }
    Ok(interval)
}

impl Cron {
    fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
            return Err(format!(
                "{text:?} is neither \"every <N><s|m|h|d>\" nor a 5-field cron expression \
                 (minute hour day-of-month month day-of-week)"
            ));
        };
        let mut days_of_week = field_bits(day_of_week, 0, 7, "day-of-week")?;
        if days_of_week & (1 << 7) != 0 {
            days_of_week |= 1;
        }
        Ok(Cron {
            text: fields.join(" "),
            minutes: field_bits(minute, 0, 59, "minute")?,
            hours: field_bits(hour, 0, 23, "hour")? as u32,
            days_of_month: field_bits(day_of_month, 1, 31, "day-of-month")? as u32,
            months: field_bits(month, 1, 12, "month")? as u16,
            days_of_week: (days_of_week & 0x7f) as u8,
            day_of_month_restricted: day_of_month != "*",
            day_of_week_restricted: day_of_week != "*",
        })
    }

    fn day_matches(&self, days_since_epoch: i64) -> bool {
        let (_, month, day) = crate::store::civil_from_days(days_since_epoch);
        if self.months & (1 << month) == 0 {
            return false;
        }
        // 1970-01-01 was a Thursday (4).
        let weekday = (days_since_epoch + 4).rem_euclid(7) as u32;
        let by_month_day = self.days_of_month & (1 << day) != 0;
        let by_week_day = self.days_of_week & (1 << weekday) != 0;
        match (self.day_of_month_restricted, self.day_of_week_restricted) {
            (true, true) => by_month_day || by_week_day,
            _ => by_month_day && by_week_day,
        }
    }

    fn next_after(&self, after: SystemTime) -> Option<SystemTime> {
        let after_seconds = i64::try_from(after.duration_since(UNIX_EPOCH).ok()?.as_secs()).ok()?;
        // Start at the next whole minute.
        let start_minute = after_seconds.div_euclid(60) + 1;
        let first_day = start_minute.div_euclid(1440);
        let mut minute_of_day = start_minute.rem_euclid(1440);
        for day in first_day..first_day + MAX_CRON_SEARCH_DAYS {
            if self.day_matches(day) {
                for minute in minute_of_day..1440 {
                    let (hour, minute_of_hour) = (minute / 60, minute % 60);
                    if self.hours & (1 << hour) != 0 && self.minutes & (1 << minute_of_hour) != 0 {
                        let seconds = u64::try_from((day * 1440 + minute) * 60).ok()?;
                        return Some(UNIX_EPOCH + Duration::from_secs(seconds));
                    }
                }
            }
            minute_of_day = 0;
        }
        None
    }
}

/// The allowed values of one cron field as a bit set.
fn field_bits(field: &str, low: u32, high: u32, name: &str) -> Result<u64, String> {
    let invalid = || format!("invalid cron {name} field {field:?} (allowed values {low}-{high})");
    let mut bits = 0u64;
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().map_err(|_| invalid())?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(invalid());
        }
        let (start, end) = if range == "*" {
            (low, high)
        } else if let Some((start, end)) = range.split_once('-') {
            (
                start.parse().map_err(|_| invalid())?,
                end.parse().map_err(|_| invalid())?,
            )
        } else {
            let value: u32 = range.parse().map_err(|_| invalid())?;
            // `5/15` means 5, 20, 35, 50 as in common crons.
            (value, if part.contains('/') { high } else { value })
        };
        if start < low || end > high || start > end {
            return Err(invalid());
        }
        for value in (start..=end).step_by(step as usize) {
            bits |= 1 << value;
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn intervals_parse_with_units_and_a_minimum() {
        assert_eq!(
            Schedule::parse("every 15m"),
            Ok(Schedule::Every(Duration::from_secs(900)))
        );
        assert_eq!(Schedule::parse("every 1h").unwrap().to_string(), "every 1h");
        assert_eq!(
            Schedule::parse(" every 2d ").unwrap().to_string(),
            "every 2d"
        );
        for bad in [
            "every",
            "every 5",
            "every 1w",
            "every m",
            "every 30s",
            "every -1h",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Schedule::parse("every 1h").unwrap().next_after(at(100)),
            Some(at(3700))
        );
    }

    #[test]
    fn cron_expressions_find_their_next_minute_in_utc() {
        // 2023-11-14 22:13:20 UTC is a Tuesday.
        let now = at(1_700_000_000);
        let check = |expression: &str, expected: u64| {
            let schedule = Schedule::parse(expression).unwrap();
            assert_eq!(schedule.next_after(now), Some(at(expected)), "{expression}");
        };
        check("* * * * *", 1_700_000_040);
        check("30 2 * * *", 1_700_015_400); // 2023-11-15 02:30
        check("*/15 * * * *", 1_700_000_100); // 22:15
        check("0 9 * * 1", 1_700_470_800); // Monday 2023-11-20 09:00
        check("0 0 1 1 *", 1_704_067_200); // 2024-01-01
        check("0 0 29 2 *", 1_709_164_800); // 2024-02-29
        check("0 12 15 * 0", 1_700_049_600); // 15th or Sunday: Wednesday the 15th, 12:00
        check("0 0 * * 7", 1_700_352_000); // 7 = Sunday 2023-11-19
    }

    #[test]
    fn bad_cron_expressions_say_which_field() {
        for (bad, field) in [
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day-of-month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day-of-week"),
            ("*/0 * * * *", "minute"),
            ("5-1 * * * *", "minute"),
            ("* * * * MON", "day-of-week"),
        ] {
            let error = Schedule::parse(bad).unwrap_err();
            assert!(error.contains(field), "{bad}: {error}");
        }
        assert!(Schedule::parse("* * * *").unwrap_err().contains("5-field"));
        assert_eq!(
            Schedule::parse("0 0 31 2 *").unwrap().next_after(at(0)),
            None
        );
    }
}
