//! Shipping: the static binary the README's `FROM scratch` recipe copies, built the README's way, proven
//! to run in an empty root.

mod empty_root;
pub mod static_binary;
