//! Job definitions (being written).
