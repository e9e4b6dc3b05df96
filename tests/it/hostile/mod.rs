//! Hostile children and hostile surroundings: whatever they do, the status and output come through.

mod children;
mod surroundings;
