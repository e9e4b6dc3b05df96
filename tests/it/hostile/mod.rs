//! Hostile children and hostile surroundings: whatever they do, the status and output come through.

mod address_space;
mod children;
mod surroundings;
