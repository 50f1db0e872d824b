//! Pricing a model name nobody priced by its family: new names appear every month
//! (`gemini-3.9-flash`, `claude-opus-6`), and billing them at the dearest Claude price would
//! overcharge a flash model a hundredfold.
//!
//! Two rules, tried in order on the normalised name:
//!
//! 1. **Named family.** A name that carries a family's marker words after the vendor's is
//!    priced as the family's newest canonical model. [`NAMED_FAMILIES`] lists them, first
//!    match wins: `gemini-*-flash-lite*`, `gemini-*-flash*`, `gemini-*-pro*`, `claude-*opus*`,
//!    `claude-*sonnet*`, `claude-*haiku*`, `gpt-*-codex-mini*`, `gpt-*-codex-max*`,
//!    `gpt-*-codex*`, `gpt-*-pro*`, `gpt-*-nano*`, `gpt-*-mini*`, `o*-pro*`, `o*-mini*`. Names
//!    that also carry a word of another modality (image, tts, audio, live, realtime,
//!    embedding, transcribe, research, computer, native) are left out: those models are
//!    priced unlike their text siblings.
//! 2. **Same shape.** Otherwise the name with its version replaced by `*` (`gpt-6.2-luna` →
//!    `gpt-*-luna`, `o5` → `o*`, `gemini-3.9-flash-image` → `gemini-*-flash-image`) is priced
//!    as the newest known model of that shape.
//!
//! **Newest** is decided from the names alone, so it is deterministic whatever the table's
//! order: the version is the first run of numeric dash-separated parts (`3.8` → [3, 8],
//! `4-8` → [4, 8], `o3` → [3]; parts of more than two digits are dates or snapshot numbers,
//! not versions) compared numerically; at an equal version a named family's stable shape beats
//! its preview (`gemini-*-flash` before `gemini-*-flash-preview`), then the smaller name wins.
//! The candidates are the priced names: the table's, normalised, and the admin's overrides.

use std::collections::HashMap;

use super::price::ModelPrice;

/// A known model that may price the unknown ones of its family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Normalised name.
    pub name: String,
    pub price: ModelPrice,
    pub max_output_tokens: Option<u64>,
}

/// A family of names and how its newest model is found.
pub struct NamedFamily {
    /// The family as documented and shown on the dashboard.
    pub label: &'static str,
    /// The vendor's first word (`o` stands for the o-series' `o1`, `o3`, ...).
    vendor: &'static str,
    /// Words that must follow one another somewhere after the vendor.
    markers: &'static [&'static str],
    /// Shapes whose newest model prices the family, stable first.
    canonical: &'static [&'static str],
}

const fn family(
    label: &'static str,
    vendor: &'static str,
    markers: &'static [&'static str],
    canonical: &'static [&'static str],
) -> NamedFamily {
    NamedFamily {
        label,
        vendor,
        markers,
        canonical,
    }
}

pub const NAMED_FAMILIES: &[NamedFamily] = &[
    family(
        "gemini-*-flash-lite*",
        "gemini",
        &["flash", "lite"],
        &["gemini-*-flash-lite", "gemini-*-flash-lite-preview"],
    ),
    family(
        "gemini-*-flash*",
        "gemini",
        &["flash"],
        &["gemini-*-flash", "gemini-*-flash-preview"],
    ),
    family(
        "gemini-*-pro*",
        "gemini",
        &["pro"],
        &["gemini-*-pro", "gemini-*-pro-preview"],
    ),
    family(
        "claude-*opus*",
        "claude",
        &["opus"],
        &["claude-opus-*", "claude-*-opus"],
    ),
    family(
        "claude-*sonnet*",
        "claude",
        &["sonnet"],
        &["claude-sonnet-*", "claude-*-sonnet"],
    ),
    family(
        "claude-*haiku*",
        "claude",
        &["haiku"],
        &["claude-haiku-*", "claude-*-haiku"],
    ),
    family(
        "gpt-*-codex-mini*",
        "gpt",
        &["codex", "mini"],
        &["gpt-*-codex-mini"],
    ),
    family(
        "gpt-*-codex-max*",
        "gpt",
        &["codex", "max"],
        &["gpt-*-codex-max"],
    ),
    family("gpt-*-codex*", "gpt", &["codex"], &["gpt-*-codex"]),
    family("gpt-*-pro*", "gpt", &["pro"], &["gpt-*-pro"]),
    family("gpt-*-nano*", "gpt", &["nano"], &["gpt-*-nano"]),
    family("gpt-*-mini*", "gpt", &["mini"], &["gpt-*-mini"]),
    family("o*-pro*", "o", &["pro"], &["o*-pro"]),
    family("o*-mini*", "o", &["mini"], &["o*-mini"]),
];

/// Words of models priced unlike their text siblings: no named family covers them.
const OTHER_MODALITIES: &[&str] = &[
    "image",
    "tts",
    "audio",
    "live",
    "realtime",
    "embedding",
    "transcribe",
    "research",
    "computer",
    "native",
];

/// A version part: one or two digits, possibly dotted (`3`, `3.8`, `10`).
fn is_version(part: &str) -> bool {
    !part.is_empty()
        && part
            .split('.')
            .all(|g| (1..=2).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

/// `o1`, `o3`, `o4`: an o-series model's first word.
fn o_series_version(word: &str) -> Option<&str> {
    word.strip_prefix('o')
        .filter(|v| is_version(v) && !v.contains('.'))
}

fn version_numbers(parts: &[&str]) -> Vec<u32> {
    parts
        .iter()
        .flat_map(|p| p.split('.'))
        .filter_map(|g| g.parse().ok())
        .collect()
}

/// `name` with its version replaced by `*`, and the version.
pub fn shape_of(name: &str) -> Option<(String, Vec<u32>)> {
    let words: Vec<&str> = name.split('-').collect();
    if let Some(v) = words.first().and_then(|w| o_series_version(w)) {
        let mut shape = String::from("o*");
        for w in &words[1..] {
            shape.push('-');
            shape.push_str(w);
        }
        return Some((shape, version_numbers(&[v])));
    }
    let start = words.iter().position(|w| is_version(w))?;
    let end = words[start..]
        .iter()
        .position(|w| !is_version(w))
        .map_or(words.len(), |n| start + n);
    let shape = words[..start]
        .iter()
        .copied()
        .chain(std::iter::once("*"))
        .chain(words[end..].iter().copied())
        .collect::<Vec<_>>()
        .join("-");
    Some((shape, version_numbers(&words[start..end])))
}

impl NamedFamily {
    fn matches(&self, words: &[&str]) -> bool {
        let vendor_ok = match self.vendor {
            "o" => words.first().and_then(|w| o_series_version(w)).is_some(),
            vendor => words.first() == Some(&vendor),
        };
        vendor_ok
            && words.len() > self.markers.len()
            && words[1..]
                .windows(self.markers.len())
                .any(|w| w == self.markers)
            && !words.iter().any(|w| OTHER_MODALITIES.contains(w))
    }
}

/// The newest candidate of every shape, and of every named family.
#[derive(Debug, Default)]
pub struct FamilyIndex {
    candidates: Vec<Candidate>,
    /// Shape → (index of its newest candidate, that candidate's version).
    by_shape: HashMap<String, (usize, Vec<u32>)>,
    /// Per [`NAMED_FAMILIES`] entry, its newest canonical candidate.
    named: Vec<Option<usize>>,
}

impl FamilyIndex {
    pub fn build(candidates: Vec<Candidate>) -> FamilyIndex {
        let mut by_shape: HashMap<String, (usize, Vec<u32>)> = HashMap::new();
        for (i, c) in candidates.iter().enumerate() {
            let Some((shape, version)) = shape_of(&c.name) else {
                continue;
            };
            let newer = match by_shape.get(&shape) {
                None => true,
                Some((j, v)) => version > *v || (version == *v && c.name < candidates[*j].name),
            };
            if newer {
                by_shape.insert(shape, (i, version));
            }
        }
        let named = NAMED_FAMILIES
            .iter()
            .map(|f| {
                // Newest version first; at equal versions the earlier (stable) shape.
                f.canonical
                    .iter()
                    .enumerate()
                    .filter_map(|(rank, shape)| by_shape.get(*shape).map(|(i, v)| (v, rank, *i)))
                    .max_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)))
                    .map(|(_, _, i)| i)
            })
            .collect();
        FamilyIndex {
            candidates,
            by_shape,
            named,
        }
    }

    /// The family that prices the unknown normalised `name`, and the model it is priced as.
    pub fn find(&self, name: &str) -> Option<(String, &Candidate)> {
        let words: Vec<&str> = name.split('-').collect();
        let named = NAMED_FAMILIES
            .iter()
            .zip(&self.named)
            .find(|(f, _)| f.matches(&words))
            .and_then(|(f, i)| i.map(|i| (f.label.to_string(), &self.candidates[i])));
        named.or_else(|| {
            let (shape, _) = shape_of(name)?;
            let (i, _) = self.by_shape.get(&shape)?;
            Some((shape, &self.candidates[*i]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::shape_of;

    #[test]
    fn shapes_replace_the_first_version_run() {
        let cases = [
            ("gemini-3.8-flash", "gemini-*-flash", vec![3, 8]),
            ("gemini-2.5-flash-lite", "gemini-*-flash-lite", vec![2, 5]),
            ("claude-opus-4-8", "claude-opus-*", vec![4, 8]),
            ("claude-3-7-sonnet", "claude-*-sonnet", vec![3, 7]),
            ("gpt-5.1-codex-mini", "gpt-*-codex-mini", vec![5, 1]),
            ("o4-mini", "o*-mini", vec![4]),
            ("o3", "o*", vec![3]),
            ("gpt-4-0613", "gpt-*-0613", vec![4]),
            (
                "gemini-2.5-flash-preview-09-2025",
                "gemini-*-flash-preview-09-2025",
                vec![2, 5],
            ),
        ];
        for (name, shape, version) in cases {
            assert_eq!(shape_of(name), Some((shape.to_string(), version)), "{name}");
        }
        assert_eq!(shape_of("gpt-4o"), None, "4o is a name, not a version");
        assert_eq!(shape_of("omni-moderation"), None);
    }
}
