//! End-to-end test stack (see tests/).
