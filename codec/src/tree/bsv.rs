//! The binary-safe value envelope: a JSON string when the bytes are UTF-8, otherwise
//! `{"base64":"<base64url, no padding>"}`.

/// Serializes borrowed bytes as a binary-safe value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bsv<'a>(pub &'a [u8]);

/// A parsed binary-safe value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BsvBuf(pub Vec<u8>);
