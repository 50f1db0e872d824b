//! Real-time figures: a window of the last `METRICS_WINDOW` minutes kept in memory, per
//! minute, fed by every usage event and every upstream attempt. The dashboard's overview reads
//! it; nothing here touches the database.

pub mod prometheus;
pub mod window;

pub use window::{LiveMetrics, LiveSnapshot};
