//! The accounts page's parts: the add/edit form and the table.

pub mod form;
pub mod table;
