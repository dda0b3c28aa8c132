//! Plain domain logic: validation, the run record, cursors, record normalisation.
//! No I/O here; handlers translate, these functions decide.

pub mod cursor;
pub mod records;
pub mod run;
