//! DynamoDB numbers (`N`) in the two places their spelling matters
//! (docs/format.md §4.4, §6.3).
//!
//! * File names: the decoder names an item by the *exact rational* its key number
//!   denotes, spelled like Go's `big.Rat.RatString` after `big.Rat.SetString`, so
//!   `1.5`, `1.50` and `15e-1` all land in `3%2F2`. [`canonical`] reproduces Go's
//!   parser, which is far more liberal than DynamoDB (fractions `a/b`, `0x`/`0o`/`0b`
//!   prefixes, binary `p` exponents, `_` digit separators); an unparsable spelling is
//!   kept (trimmed) as Go keeps it.
//! * Store keys: the live adapter orders numeric key attributes by the bytes of
//!   [`ordered_key_bytes`] (sign marker, ordered exponent, significant digits), which
//!   accepts decimal spellings only.

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};

/// Largest decimal exponent Go's `Rat.SetString` expands (`5^n` is computed).
const MAX_EXP5: u64 = 1_000_000;
/// Largest binary exponent Go's `Rat.SetString` expands.
const MAX_EXP2: i64 = 10_000_000;

/// The file-name spelling of a number: `RatString` of `SetString(TrimSpace(n))`, or
/// the trimmed text when Go cannot parse it.
pub fn canonical(n: &str) -> String {
    let trimmed = n.trim();
    match parse_rat(trimmed.as_bytes()) {
        Some((negative, num, den)) => rat_string(negative, &num, &den),
        None => trimmed.to_owned(),
    }
}

fn rat_string(negative: bool, num: &BigUint, den: &BigUint) -> String {
    let g = num.gcd(den);
    let (num, den) = if g.is_zero() || g.is_one() {
        (num.clone(), den.clone())
    } else {
        (num / &g, den / &g)
    };
    let sign = if negative && !num.is_zero() { "-" } else { "" };
    if den.is_one() || num.is_zero() {
        format!("{sign}{num}")
    } else {
        format!("{sign}{num}/{den}")
    }
}

/// Go's `Rat.SetString`: `(negative, numerator, denominator)`.
fn parse_rat(s: &[u8]) -> Option<(bool, BigUint, BigUint)> {
    if s.is_empty() {
        return None;
    }
    if let Some(sep) = s.iter().position(|&b| b == b'/') {
        // `a/b`: a is `Int.SetString(a, 0)`, b an unsigned natural in base 0.
        let (neg, num) = parse_int(&s[..sep])?;
        let mut den_src = Scanner::new(&s[sep + 1..]);
        let den = scan_nat(&mut den_src, false).ok()?;
        if !den_src.at_end() || den.value.is_zero() {
            return None;
        }
        return Some((neg && !num.is_zero(), num, den.value));
    }
    let mut src = Scanner::new(s);
    let neg = src.sign();
    let mantissa = scan_nat(&mut src, true).ok()?;
    let (exp, exp_base) = scan_exponent(&mut src)?;
    if !src.at_end() {
        return None;
    }
    if mantissa.value.is_zero() {
        return Some((false, BigUint::zero(), BigUint::one()));
    }
    let (mut exp2, mut exp5) = (0i64, 0i64);
    if mantissa.count < 0 {
        let d = mantissa.count;
        match mantissa.base {
            10 => {
                exp5 = d;
                exp2 = d;
            }
            2 => exp2 = d,
            8 => exp2 = d.wrapping_mul(3),
            _ => exp2 = d.wrapping_mul(4),
        }
    }
    if exp_base == 10 {
        exp5 = exp5.wrapping_add(exp);
    }
    exp2 = exp2.wrapping_add(exp);
    let mut num = mantissa.value;
    let mut den = BigUint::one();
    if exp5 != 0 {
        let n = exp5.unsigned_abs();
        if n > MAX_EXP5 {
            return None;
        }
        let pow5 = BigUint::from(5u8).pow(n as u32);
        if exp5 > 0 {
            num *= pow5;
        } else {
            den = pow5;
        }
    }
    if !(-MAX_EXP2..=MAX_EXP2).contains(&exp2) {
        return None;
    }
    if exp2 > 0 {
        num <<= exp2 as u64;
    } else if exp2 < 0 {
        den <<= exp2.unsigned_abs();
    }
    Some((neg, num, den))
}

/// Go's `Int.SetString(s, 0)`: optional sign, base prefix (a lone leading `0` is
/// octal), the whole text consumed.
fn parse_int(s: &[u8]) -> Option<(bool, BigUint)> {
    let mut src = Scanner::new(s);
    let neg = src.sign();
    let nat = scan_nat(&mut src, false).ok()?;
    src.at_end().then_some((neg, nat.value))
}

/// A byte cursor with one byte of look-ahead, like Go's `io.ByteScanner` use.
struct Scanner<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scanner { s, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    /// `scanSign`: consumes a `+` or `-`.
    fn sign(&mut self) -> bool {
        match self.peek() {
            Some(b'-') => {
                self.bump();
                true
            }
            Some(b'+') => {
                self.bump();
                false
            }
            _ => false,
        }
    }
}

struct Nat {
    value: BigUint,
    base: u32,
    /// Digits read, or minus the digits after the radix point when there is one.
    count: i64,
}

/// Go's `nat.scan(r, 0, fracOk)`.
fn scan_nat(src: &mut Scanner<'_>, frac_ok: bool) -> Result<Nat, ()> {
    let mut prev = b'.';
    let mut inval_sep = false;
    let mut base = 10u32;
    let mut octal_prefix = false;
    let mut count: i64 = 0;
    let mut digits: Vec<u8> = Vec::new();
    if src.peek() == Some(b'0') {
        src.bump();
        prev = b'0';
        count = 1;
        let mut prefixed = true;
        match src.peek() {
            Some(b'b' | b'B') => base = 2,
            Some(b'o' | b'O') => base = 8,
            Some(b'x' | b'X') => base = 16,
            Some(_) if !frac_ok => {
                base = 8;
                octal_prefix = true;
            }
            _ => prefixed = false,
        }
        if prefixed {
            count = 0;
            if !octal_prefix {
                src.bump();
            }
        } else {
            digits.push(0);
        }
    }
    let mut dp: Option<i64> = None;
    while let Some(ch) = src.peek() {
        if ch == b'.' && frac_ok && dp.is_none() {
            dp = Some(count);
            prev = b'.';
        } else if ch == b'_' {
            if prev != b'0' {
                inval_sep = true;
            }
            prev = b'_';
        } else {
            let d = match ch {
                b'0'..=b'9' => u32::from(ch - b'0'),
                b'a'..=b'z' => u32::from(ch - b'a') + 10,
                b'A'..=b'Z' => u32::from(ch - b'A') + 10,
                _ => u32::MAX,
            };
            if d >= base {
                break;
            }
            prev = b'0';
            count += 1;
            digits.push(d as u8);
        }
        src.bump();
    }
    if inval_sep || prev == b'_' {
        return Err(());
    }
    if count == 0 {
        if octal_prefix {
            return Ok(Nat {
                value: BigUint::zero(),
                base: 10,
                count: 1,
            });
        }
        return Err(());
    }
    let value = BigUint::from_radix_be(&digits, base).unwrap_or_default();
    if let Some(dp) = dp {
        count = dp - count;
    }
    Ok(Nat { value, base, count })
}

/// Go's `scanExponent(r, true, true)`: `(exponent, base)`; `None` on a malformed one.
fn scan_exponent(src: &mut Scanner<'_>) -> Option<(i64, u32)> {
    let base = match src.peek() {
        Some(b'e' | b'E') => 10,
        Some(b'p' | b'P') => 2,
        _ => return Some((0, 10)),
    };
    src.bump();
    let mut text = String::new();
    if let Some(ch @ (b'+' | b'-')) = src.peek() {
        if ch == b'-' {
            text.push('-');
        }
        src.bump();
    }
    let mut prev = b'.';
    let mut inval_sep = false;
    let mut has_digits = false;
    while let Some(ch) = src.peek() {
        if ch.is_ascii_digit() {
            text.push(char::from(ch));
            prev = b'0';
            has_digits = true;
        } else if ch == b'_' {
            if prev != b'0' {
                inval_sep = true;
            }
            prev = b'_';
        } else {
            break;
        }
        src.bump();
    }
    if !has_digits || inval_sep || prev == b'_' {
        return None;
    }
    text.parse::<i64>().ok().map(|exp| (exp, base))
}

/// Why a key number cannot be ordered (`ErrDDBEncodeInvalidItem` in Go).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Empty after trimming.
    #[error("empty number literal")]
    Empty,
    /// Only a sign.
    #[error("number literal is sign only")]
    SignOnly,
    /// `e` with nothing after it.
    #[error("empty exponent")]
    EmptyExponent,
    /// The exponent is not a 64-bit decimal integer.
    #[error("bad exponent {0:?}")]
    BadExponent(String),
    /// More than one `.`.
    #[error("number has multiple decimal points")]
    MultiplePoints,
    /// No digits at all.
    #[error("number has no digits")]
    NoDigits,
    /// Anything but digits and one point in the mantissa.
    #[error("number has non-decimal characters")]
    NonDecimal,
}

/// Sign markers of the ordered encoding.
const NEGATIVE: u8 = 0x00;
const ZERO: u8 = 0x01;
const POSITIVE: u8 = 0x02;

/// The live adapter's ordered bytes for a numeric key attribute.
///
/// `0x01` for zero; otherwise `0x02 ‖ body` (positive) or `0x00 ‖ !body` (negative),
/// body = `ordered_i64(exponent) ‖ 0x00 ‖ significant digits (ASCII)`, where the
/// value is `0.d1d2… × 10^exponent`.
pub fn ordered_key_bytes(n: &str) -> Result<Vec<u8>, NumberError> {
    let trimmed = n.trim();
    if trimmed.is_empty() {
        return Err(NumberError::Empty);
    }
    let (negative, unsigned) = match trimmed.as_bytes()[0] {
        b'+' => (false, &trimmed[1..]),
        b'-' => (true, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if unsigned.is_empty() {
        return Err(NumberError::SignOnly);
    }
    let (mantissa, exp10) = match unsigned.find(['e', 'E']) {
        Some(idx) => (
            &unsigned[..idx],
            parse_exponent(unsigned[idx + 1..].trim())?,
        ),
        None => (unsigned, 0),
    };
    if mantissa.matches('.').count() > 1 {
        return Err(NumberError::MultiplePoints);
    }
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(NumberError::NoDigits);
    }
    let decimal = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !decimal(int_part) || !decimal(frac_part) {
        return Err(NumberError::NonDecimal);
    }
    let combined = [int_part.as_bytes(), frac_part.as_bytes()].concat();
    let leading = combined.iter().take_while(|&&b| b == b'0').count();
    let significant = &combined[leading..];
    let end = significant.len() - significant.iter().rev().take_while(|&&b| b == b'0').count();
    let digits = &significant[..end];
    if digits.is_empty() {
        return Ok(vec![ZERO]);
    }
    // Go computes this in int64 and wraps; so do we, to keep the same bytes.
    let exponent = (int_part.len() as i64)
        .wrapping_add(exp10)
        .wrapping_sub(leading as i64);
    let mut body = ordered_i64(exponent);
    body.push(0x00);
    body.extend_from_slice(digits);
    let mut out = Vec::with_capacity(body.len() + 1);
    if negative {
        out.push(NEGATIVE);
        out.extend(body.iter().map(|b| !b));
    } else {
        out.push(POSITIVE);
        out.extend_from_slice(&body);
    }
    Ok(out)
}

fn parse_exponent(text: &str) -> Result<i64, NumberError> {
    if text.is_empty() {
        return Err(NumberError::EmptyExponent);
    }
    // strconv.ParseInt(s, 10, 64): optional sign, decimal digits, in range.
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::BadExponent(text.to_owned()));
    }
    text.parse::<i64>()
        .map_err(|_| NumberError::BadExponent(text.to_owned()))
}

/// `0x00 ‖ !ordered_u64(|v|)` for negative, `0x01` for zero, `0x02 ‖ ordered_u64(v)`.
fn ordered_i64(v: i64) -> Vec<u8> {
    match v.signum() {
        -1 => {
            let mut out = vec![NEGATIVE];
            out.extend(ordered_u64(v.unsigned_abs()).iter().map(|b| !b));
            out
        }
        0 => vec![ZERO],
        _ => {
            let mut out = vec![POSITIVE];
            out.extend(ordered_u64(v.unsigned_abs()));
            out
        }
    }
}

/// Width byte (1..8) then the big-endian bytes without leading zeros (at least one).
fn ordered_u64(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let start = bytes.iter().take(7).take_while(|&&b| b == 0).count();
    let mut out = Vec::with_capacity(9 - start);
    out.push((8 - start) as u8);
    out.extend_from_slice(&bytes[start..]);
    out
}

#[cfg(test)]
#[path = "number_tests.rs"]
mod tests;
