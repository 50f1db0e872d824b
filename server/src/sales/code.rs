//! Redemption codes: 140 random bits written as 28 Crockford base32 characters in groups of
//! four (`7KQ2-M9ZX-…`), easy to read aloud and to type. Reading is forgiving the way Crockford
//! intends: case, hyphens and spaces do not matter, `O` is `0`, `I` and `L` are `1`. Only the
//! SHA-256 of the canonical form is stored.

use rand::RngCore;

use crate::crypto::token_hash;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a code (5 bits each: 140 bits).
pub const CODE_CHARS: usize = 28;
const GROUP: usize = 4;
// At least 128 bits of randomness.
const _: () = assert!(CODE_CHARS * 5 >= 128);

/// A freshly generated code; the plaintext leaves once, in the answer.
pub struct GeneratedCode {
    pub plaintext: String,
    pub hash: String,
    /// The first group, kept for recognising the code.
    pub hint: String,
}

impl std::fmt::Debug for GeneratedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCode")
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

pub fn generate() -> GeneratedCode {
    let mut bytes = [0u8; CODE_CHARS];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    // One byte per character, 5 of its bits: uniform over the alphabet.
    let canonical: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    GeneratedCode {
        plaintext: grouped(&canonical),
        hash: token_hash(&canonical),
        hint: canonical[..GROUP].to_owned(),
    }
}

fn grouped(canonical: &str) -> String {
    canonical
        .as_bytes()
        .chunks(GROUP)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a typed code, or `None` when it cannot be one (wrong length or a
/// character outside the alphabet): refused without a lookup.
pub fn canonical(typed: &str) -> Option<String> {
    if typed.len() > 4 * CODE_CHARS {
        return None;
    }
    let mut out = String::with_capacity(CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' | '\t' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && ALPHABET.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == CODE_CHARS).then_some(out)
}

/// What a typed code is stored under.
pub fn hash_of(typed: &str) -> Option<String> {
    canonical(typed).map(|c| token_hash(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_random_and_read_forgivingly() {
        let a = generate();
        let b = generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.plaintext.len(), CODE_CHARS + CODE_CHARS / GROUP - 1);
        assert!(a.plaintext.split('-').all(|g| g.len() == GROUP));
        assert!(a.plaintext.starts_with(&a.hint));
        assert_eq!(hash_of(&a.plaintext).as_deref(), Some(a.hash.as_str()));
        let sloppy = a.plaintext.to_lowercase().replace('-', " ");
        assert_eq!(hash_of(&sloppy).as_deref(), Some(a.hash.as_str()));
        let canon = canonical(&a.plaintext).unwrap();
        let with_o = canon.replace('0', "O");
        assert_eq!(canonical(&with_o).as_deref(), Some(canon.as_str()));
        assert_eq!(canonical("ABCD"), None, "too short");
        assert_eq!(
            canonical(&format!("{}U", &canon[1..])),
            None,
            "U is not Crockford"
        );
        assert!(!format!("{a:?}").contains(&a.plaintext));
    }
}
