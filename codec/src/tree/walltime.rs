//! `wall_time_iso`: Go's `time.RFC3339Nano` in UTC, written and parsed by hand so the
//! crate needs no date library for two fields.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// An instant with nanosecond precision, kept as seconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime {
    secs: i64,
    nanos: u32,
}

/// Why a string is not an RFC 3339 time as Go's `time.Parse(time.RFC3339Nano, …)` sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {input:?} as RFC 3339: {reason}")]
pub struct WallTimeError {
    /// The rejected text.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl WallTime {
    /// The current time.
    pub fn now() -> Self {
        WallTime::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime`, including times before the epoch.
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => WallTime {
                secs: d.as_secs() as i64,
                nanos: d.subsec_nanos(),
            },
            Err(e) => {
                let d = e.duration();
                let (mut secs, mut nanos) = (-(d.as_secs() as i64), d.subsec_nanos());
                if nanos > 0 {
                    secs -= 1;
                    nanos = 1_000_000_000 - nanos;
                }
                WallTime { secs, nanos }
            }
        }
    }

    /// `secs` since the epoch plus `nanos` (< 1e9).
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        (nanos < 1_000_000_000).then_some(WallTime { secs, nanos })
    }

    /// Whole seconds since the epoch (floor).
    pub fn unix_secs(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// `t.UTC().Format(time.RFC3339Nano)`: fraction with trailing zeros trimmed, none
    /// at all when zero, e.g. `2026-11-22T02:26:10.14167732Z`.
    pub fn to_rfc3339_nano(&self) -> String {
        let (year, month, day) = civil_from_days(self.secs.div_euclid(SECS_PER_DAY));
        let sod = self.secs.rem_euclid(SECS_PER_DAY);
        let mut out = String::with_capacity(30);
        if year < 0 {
            out.push('-');
        }
        out.push_str(&format!(
            "{:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
            year.unsigned_abs(),
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        ));
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            out.push('.');
            out.push_str(frac.trim_end_matches('0'));
        }
        out.push('Z');
        out
    }

    /// Accepts exactly what Go's `time.Parse(time.RFC3339Nano, s)` accepts (its fast
    /// path and the layout-driven fallback, which is the more permissive of the two):
    /// a 1- or 2-digit hour, `,` as the fraction separator, any number of fraction
    /// digits (truncated to 9), and zone offsets up to `±24:60`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, WallTimeError> {
        let fail = |reason| WallTimeError {
            input: s.to_owned(),
            reason,
        };
        let b = s.as_bytes();
        let mut p = 0usize;
        let fixed = |p: &mut usize, n: usize| -> Option<i64> {
            let digits = b.get(*p..*p + n)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            *p += n;
            Some(
                digits
                    .iter()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')),
            )
        };
        let lit = |p: &mut usize, c: u8| -> bool {
            if b.get(*p) == Some(&c) {
                *p += 1;
                true
            } else {
                false
            }
        };
        let year = fixed(&mut p, 4).ok_or_else(|| fail("bad year"))?;
        if !lit(&mut p, b'-') {
            return Err(fail("expected '-' after year"));
        }
        let month = fixed(&mut p, 2).ok_or_else(|| fail("bad month"))?;
        if !(1..=12).contains(&month) {
            return Err(fail("month out of range"));
        }
        if !lit(&mut p, b'-') {
            return Err(fail("expected '-' after month"));
        }
        let day = fixed(&mut p, 2).ok_or_else(|| fail("bad day"))?;
        if !lit(&mut p, b'T') {
            return Err(fail("expected 'T'"));
        }
        let hour = match fixed(&mut p, 2) {
            Some(h) => h,
            None => fixed(&mut p, 1).ok_or_else(|| fail("bad hour"))?,
        };
        if hour > 23 {
            return Err(fail("hour out of range"));
        }
        if !lit(&mut p, b':') {
            return Err(fail("expected ':' after hour"));
        }
        let minute = fixed(&mut p, 2).ok_or_else(|| fail("bad minute"))?;
        if minute > 59 {
            return Err(fail("minute out of range"));
        }
        if !lit(&mut p, b':') {
            return Err(fail("expected ':' after minute"));
        }
        let second = fixed(&mut p, 2).ok_or_else(|| fail("bad second"))?;
        if second > 59 {
            return Err(fail("second out of range"));
        }
        let mut nanos = 0u32;
        if matches!(b.get(p), Some(b'.' | b',')) && b.get(p + 1).is_some_and(u8::is_ascii_digit) {
            p += 1;
            let start = p;
            while b.get(p).is_some_and(u8::is_ascii_digit) {
                p += 1;
            }
            for (i, d) in b[start..p].iter().take(9).enumerate() {
                nanos += u32::from(d - b'0') * 10u32.pow(8 - i as u32);
            }
        }
        let offset = if lit(&mut p, b'Z') {
            0
        } else {
            let sign = match b.get(p) {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(fail("bad time zone")),
            };
            p += 1;
            let hh = fixed(&mut p, 2).ok_or_else(|| fail("bad time zone hour"))?;
            if !lit(&mut p, b':') {
                return Err(fail("bad time zone"));
            }
            let mm = fixed(&mut p, 2).ok_or_else(|| fail("bad time zone minute"))?;
            if hh > 24 || mm > 60 {
                return Err(fail("time zone offset out of range"));
            }
            sign * (hh * 3600 + mm * 60)
        };
        if p != b.len() {
            return Err(fail("extra text"));
        }
        if day < 1 || day > i64::from(days_in(month as u32, year)) {
            return Err(fail("day out of range"));
        }
        let secs = days_from_civil(year, month as u32, day as u32) * SECS_PER_DAY
            + hour * 3600
            + minute * 60
            + second
            - offset;
        Ok(WallTime { secs, nanos })
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn parse(s: &str) -> Option<WallTime> {
        WallTime::parse_rfc3339(s).ok()
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(
            WallTime::from_unix(0, 0).unwrap().to_rfc3339_nano(),
            "1970-01-01T00:00:00Z"
        );
        let t = parse("2026-11-22T02:48:17.954299133Z").unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2026-11-22T02:48:17.954299133Z");
        let t = WallTime::from_unix(t.unix_secs(), 141_677_320).unwrap();
        assert_eq!(t.to_rfc3339_nano(), "2026-11-22T02:48:17.14167732Z");
        assert_eq!(
            WallTime::from_unix(951_782_400, 500_000_000)
                .unwrap()
                .to_rfc3339_nano(),
            "2000-02-29T00:00:00.5Z"
        );
        assert_eq!(
            WallTime::from_unix(-1, 0).unwrap().to_rfc3339_nano(),
            "1969-12-31T23:59:59Z"
        );
        let before = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(
            WallTime::from_system_time(before).to_rfc3339_nano(),
            "1969-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            WallTime::from_unix(253_402_300_800, 0)
                .unwrap()
                .to_rfc3339_nano(),
            "10000-01-01T00:00:00Z"
        );
        assert_eq!(
            WallTime::from_unix(-62_167_219_201, 0)
                .unwrap()
                .to_rfc3339_nano(),
            "-0001-12-31T23:59:59Z"
        );
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in(m, y));
        }
    }

    #[test]
    fn parse_accepts_what_go_accepts() {
        let base = parse("2026-11-22T02:48:17Z").unwrap();
        assert_eq!(
            parse("2026-11-22T02:48:17.5Z").unwrap().subsec_nanos(),
            500_000_000
        );
        assert_eq!(
            parse("2026-11-22T02:48:17,25Z").unwrap().subsec_nanos(),
            250_000_000
        );
        assert_eq!(
            parse("2026-11-22T02:48:17.1234567891Z")
                .unwrap()
                .subsec_nanos(),
            123_456_789
        );
        assert_eq!(parse("2026-11-22T03:48:17+01:00").unwrap(), base);
        assert_eq!(parse("2026-11-22T01:48:17-01:00").unwrap(), base);
        assert_eq!(parse("2026-11-22T2:48:17Z").unwrap(), base);
        assert!(parse("2026-11-22T02:48:17+24:60").is_some());
        assert!(parse("2024-02-29T00:00:00Z").is_some());
        assert!(parse("0000-01-01T00:00:00Z").is_some());
    }

    #[test]
    fn parse_rejects_what_go_rejects() {
        for bad in [
            "",
            "2026-11-22",
            "2026-11-22T02:48:17",
            "2026-11-22t02:48:17Z",
            "2026-11-22T02:48:17z",
            "2026-11-22 02:48:17Z",
            "2026-13-22T02:48:17Z",
            "2026-00-22T02:48:17Z",
            "2026-11-31T02:48:17Z",
            "2023-02-29T00:00:00Z",
            "2026-11-00T02:48:17Z",
            "2026-11-22T24:48:17Z",
            "2026-11-22T02:60:17Z",
            "2026-11-22T02:48:60Z",
            "2026-11-22T02:4:17Z",
            "2026-11-22T02:48:17.Z",
            "2026-11-22T02:48:17Zjunk",
            "2026-11-22T02:48:17+0100",
            "2026-11-22T02:48:17+25:00",
            "2026-11-22T02:48:17+01:61",
            "+026-11-22T02:48:17Z",
            "26-11-22T02:48:17Z",
            "２026-11-22T02:48:17Z",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
