//! Where members come from: readers that turn customer files into rows of column values.
//!
//! # Layout
//! - `file.rs`: CSV (sniffed delimiter, BOM, CRLF) and JSON Lines files or stdin, read as a
//!   stream of raw chunks of whole rows ([`file::RawChunk`]) that worker threads parse in
//!   parallel ([`file::RowParser`]).
//! - `mapping.rs`: which column feeds which [`audsync_core::Field`], automatic or from
//!   `--map COLUMN=KEY`, and which column holds the user id.

pub mod file;
pub mod mapping;
