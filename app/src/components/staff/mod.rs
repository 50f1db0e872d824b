pub mod user_form;
