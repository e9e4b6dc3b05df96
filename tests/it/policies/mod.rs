//! The run policies: keepalives, the idle timeout, success rules, overlap, jitter, systemd notify,
//! terminated runs, retries, and the hygiene of the reported tail.

mod hygiene;
mod idle;
mod jitter;
mod keepalive;
mod large_tail;
mod monitors;
mod options;
mod overlap;
mod own_secrets;
mod retries;
mod success;
mod systemd;
mod terminated;
