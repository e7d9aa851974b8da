//! Error type shared by every MIC stage; converted to a Python exception in `lib.rs`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MicError {
    /// The input stream is malformed or truncated (decoder side).
    Corrupt(String),
    /// The caller passed arguments the codec cannot honour (encoder side or API misuse).
    Invalid(String),
}

impl fmt::Display for MicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MicError::Corrupt(msg) => write!(f, "corrupt MIC stream: {msg}"),
            MicError::Invalid(msg) => write!(f, "invalid MIC request: {msg}"),
        }
    }
}

impl std::error::Error for MicError {}

pub type Result<T> = std::result::Result<T, MicError>;

pub fn corrupt<T>(msg: impl Into<String>) -> Result<T> {
    Err(MicError::Corrupt(msg.into()))
}

pub fn invalid<T>(msg: impl Into<String>) -> Result<T> {
    Err(MicError::Invalid(msg.into()))
}
