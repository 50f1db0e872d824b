//! The REST API's strict extractors: a JSON body whose unknown fields and wrong types are named
//! ([`StrictJson`]), and the one query-string reader of every list route ([`StrictQuery`]).
//! Whatever is wrong comes back as an [`AdminError`] naming the parameter, never as an
//! extractor's own text.

use std::str::FromStr;

use app::error::AdminError;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use crate::admin::error::{ApiError, AppJson};
use crate::keys::fields::StrictBody;

/// A JSON body read with [`StrictBody`].
pub struct StrictJson<T>(pub T);

impl<S, T> FromRequest<S> for StrictJson<T>
where
    T: StrictBody,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let AppJson(body) = AppJson::<serde_json::Value>::from_request(req, state).await?;
        Ok(StrictJson(T::from_json(body)?))
    }
}

/// The parameters of a list route's query string, taken one at a time.
pub trait QueryParams: Default {
    /// Takes the parameter `name`; an unknown name is [`unknown`], a bad value names `name`.
    fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError>;
}

/// The query string of a route that takes no parameters: any parameter is refused, so a typo
/// in a script is an error instead of a silently ignored filter.
#[derive(Default)]
pub struct NoParams;

impl QueryParams for NoParams {
    fn set(&mut self, name: &str, _value: &str) -> Result<(), AdminError> {
        Err(unknown(name))
    }
}

/// A query string read strictly into `T`: every parameter must be known and well-formed.
pub struct StrictQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for StrictQuery<T>
where
    T: QueryParams,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(StrictQuery(parse_query(parts.uri.query())?))
    }
}

/// Reads `raw` (the part after `?`, if any) into `T`.
pub fn parse_query<T: QueryParams>(raw: Option<&str>) -> Result<T, AdminError> {
    let mut params = T::default();
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        params.set(&name, &value)?;
    }
    Ok(params)
}

/// The error of a parameter the route does not take.
pub fn unknown(name: &str) -> AdminError {
    AdminError::validation(name, "unknown query parameter")
}

/// A whole number, surrounding blanks allowed.
pub fn whole_number<T: FromStr>(name: &str, value: &str) -> Result<T, AdminError> {
    value
        .trim()
        .parse()
        .map_err(|_| AdminError::validation(name, "must be a whole number"))
}

/// A number (fractions allowed).
pub fn number(name: &str, value: &str) -> Result<f64, AdminError> {
    value
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| AdminError::validation(name, "must be a number"))
}

/// The trimmed value, or `None` when it is blank.
pub fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// One of `choices` by its name, or an error listing them.
pub fn choice<T: Copy>(
    name: &str,
    value: &str,
    choices: &[T],
    label: impl Fn(T) -> &'static str,
) -> Result<T, AdminError> {
    choices
        .iter()
        .copied()
        .find(|c| label(*c) == value.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|c| label(*c)).collect();
            let message = match names.as_slice() {
                [a, b] => format!("must be {a} or {b}"),
                _ => format!("must be one of {}", names.join(", ")),
            };
            AdminError::validation(name, message)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Page {
        limit: Option<u32>,
        rate: Option<f64>,
    }

    impl QueryParams for Page {
        fn set(&mut self, name: &str, value: &str) -> Result<(), AdminError> {
            match name {
                "limit" => self.limit = Some(whole_number(name, value)?),
                "rate" => self.rate = Some(number(name, value)?),
                other => return Err(unknown(other)),
            }
            Ok(())
        }
    }

    fn field(raw: &str) -> String {
        match parse_query::<Page>(Some(raw)) {
            Err(AdminError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parameters_are_read_and_bad_ones_named() {
        assert_eq!(parse_query::<Page>(None).unwrap(), Page::default());
        assert_eq!(
            parse_query::<Page>(Some("limit=%205&rate=7.5")).unwrap(),
            Page {
                limit: Some(5),
                rate: Some(7.5)
            }
        );
        assert_eq!(field("limit=abc"), "limit");
        assert_eq!(field("limit=-1"), "limit");
        assert_eq!(field("rate=NaN"), "rate");
        assert_eq!(field("colour=red"), "colour");
    }

    #[test]
    fn choices_list_their_names() {
        let label = |n: u8| ["zero", "one", "two"][n as usize];
        assert_eq!(choice("n", " one ", &[0, 1], label).unwrap(), 1);
        assert!(matches!(
            choice("n", "x", &[0, 1, 2], label),
            Err(AdminError::Validation { message, .. }) if message == "must be one of zero, one, two"
        ));
        match choice("n", "two", &[0, 1], label) {
            Err(AdminError::Validation { field, message }) => {
                assert_eq!(
                    (field.as_str(), message.as_str()),
                    ("n", "must be zero or one")
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
