//! Errors of the Huffman core. Every malformed input ends here (never in a panic); `lib.rs` turns them
//! into Python `ValueError`s whose messages say what is wrong and where.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HuffmanError {
    /// The payload ends before all the bytes announced by the header were decoded.
    Truncated(String),
    /// The code-length table is not a valid prefix code.
    BadTable(String),
    /// A bit pattern that is no codeword of the table (possible only with an incomplete code).
    InvalidCode { bit_offset: u64 },
    /// Bytes or non-zero padding bits after the last codeword.
    TrailingData(String),
    /// The header announces more bytes than the payload could possibly hold.
    ImpossibleSize(String),
}

impl fmt::Display for HuffmanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HuffmanError::Truncated(what) => write!(f, "truncated Huffman payload: {what}"),
            HuffmanError::BadTable(what) => write!(f, "invalid Huffman code table: {what}"),
            HuffmanError::InvalidCode { bit_offset } => write!(
                f,
                "corrupt Huffman payload: no codeword matches the bits at bit offset {bit_offset}"
            ),
            HuffmanError::TrailingData(what) => write!(f, "corrupt Huffman payload: {what}"),
            HuffmanError::ImpossibleSize(what) => write!(f, "corrupt header: {what}"),
        }
    }
}

impl std::error::Error for HuffmanError {}
