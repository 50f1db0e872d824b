//! The accounts page's parts: the add/edit form, the table and the budget (cell and dialog).

pub mod budget;
pub mod form;
pub mod table;
